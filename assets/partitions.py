"""Partitioning of the dated datasets: one partition per trading date (US/Eastern)."""

import dagster as dg

from ibkr_pipelines.trading_calendar import FIRST_PARTITION_DATE, TRADING_TIMEZONE_NAME

TIMEZONE = TRADING_TIMEZONE_NAME

# end_offset=1 makes today's partition (the New York date) available, so tonight's snapshot lands
# under today's date; `ibkr_pipelines.trading_calendar` computes the same window for the CLI.
DAILY = dg.DailyPartitionsDefinition(start_date=FIRST_PARTITION_DATE.isoformat(), timezone=TIMEZONE, end_offset=1)
