"""The trading date: US/Eastern, read from one clock, so every part of the product agrees on "today".

IBKR's day closes in New York and the Dagster partitions are New York dates, so the machine's local
date is never used: at 21:00 in New York it is already tomorrow in UTC, Europe and Asia. Everything
that needs "today's partition" (the ``ingest`` default, the real-account snapshot check, the schedule,
the embedded simulator's clock) calls ``trading_date`` here; tests pass ``now`` instead of reading the
wall clock.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TRADING_TIMEZONE_NAME = "America/New_York"
TRADING_TIMEZONE = ZoneInfo(TRADING_TIMEZONE_NAME)
# The first partition of every dated dataset: history before it comes from Flex statements.
FIRST_PARTITION_DATE = dt.date(2025, 1, 1)


def utc_now() -> dt.datetime:
    """The current instant (UTC): the one wall-clock read of the product's date logic."""
    return dt.datetime.now(dt.timezone.utc)


def trading_date(now: dt.datetime | None = None) -> dt.date:
    """The New York calendar date at ``now`` (default: the current instant)."""
    instant = now or utc_now()
    if instant.tzinfo is None:
        raise ValueError("trading_date needs a timezone-aware datetime")
    return instant.astimezone(TRADING_TIMEZONE).date()


def partition_window(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The first and last partition dates that exist at ``now`` (the last is today in New York)."""
    return FIRST_PARTITION_DATE, trading_date(now)


def describe_window(now: dt.datetime | None = None) -> str:
    """The valid partition range in words, for error messages."""
    first, last = partition_window(now)
    return f"from {first} to {last} (today in New York)"
