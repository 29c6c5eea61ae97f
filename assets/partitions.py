"""Partitioning of the snapshot datasets: one partition per trading date (US/Eastern)."""

import dagster as dg

TIMEZONE = "America/New_York"

# end_offset=1 makes today's partition available, so tonight's snapshot lands under today's date.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone=TIMEZONE, end_offset=1)
