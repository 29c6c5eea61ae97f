"""The range planner: the fewest history requests that bring every bar of a window of New York dates.

IBKR answers at most 1000 points per request (reference §2.8). The chain runs backwards from the
window's end: each request's period ENDS at its ``startTime`` (direction -1, the default), and the
next request's ``startTime`` is the previous answer's first bar start, so answers meet without a gap
or a repeat (a bar at or after the previous ``startTime`` is dropped all the same, should IBKR's
window include its end). It stops when a bar before the window's start arrives, when an answer that
reached back past the start was not full, or on "No data." (nothing earlier).

Sizing ``period``: a ``d`` period counts trading sessions (the simulator's guess, as TWS durations do),
so a request asks for enough sessions to hold 1000 bars plus one for the session in progress at
``startTime``, and the answer keeps the 1000 bars nearest ``startTime`` (the simulator's guess: a longer
window is truncated, not refused). Bars per session come from the previous answer (the fewest bars of
a New York date it holds whole), else from a conservative table: a 300-minute session, shorter than
every regular session the simulator models, so a first request over-asks rather than under-asks.
The last request asks only for the sessions left to the window's start (weekdays, plus one).
``1w`` and ``1m`` bars use ``w`` and ``m`` periods (IBKR's caps 792 and 182 stay under 1000 bars).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Iterator

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.history import BarSeries, parse_history, read_history
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE, trading_date
from ibkr_pipelines.windows import DateWindow

MAX_POINTS = 1000  # reference §2.8: at most 1000 data points per response
MAX_DAYS = 1000  # reference §2.8: period {1-1000}d
MAX_WEEKS, MAX_MONTHS = 792, 182  # reference §2.8: {1-792}w, {1-182}m
# guess: no regular session is shorter (Tokyo's is 300 minutes); the first request's bars per session.
SHORTEST_SESSION_MINUTES = 300
# Reference §2.8 ``bar`` values, in seconds.
BAR_SECONDS = {"1min": 60, "2min": 120, "3min": 180, "5min": 300, "10min": 600, "15min": 900, "30min": 1800,
               "1h": 3600, "2h": 7200, "3h": 10_800, "4h": 14_400, "8h": 28_800, "1d": 86_400}
LONG_BARS = {"1w": ("w", MAX_WEEKS), "1m": ("m", MAX_MONTHS)}


@dataclass(frozen=True)
class HistoryCall:
    """One planned request: the instant its period ends at, and the period."""

    start_time: dt.datetime
    period: str
    final: bool  # the period reaches back past the window's start


def window_end_utc(window: DateWindow) -> dt.datetime:
    """The instant the window ends: New York midnight after its last date, in UTC (never the wall clock)."""
    after = window.end + dt.timedelta(days=1)
    return dt.datetime(after.year, after.month, after.day, tzinfo=TRADING_TIMEZONE).astimezone(dt.timezone.utc)


def weekdays_between(first: dt.date, last: dt.date) -> int:
    """Monday-to-Friday dates in [first, last] (an upper bound on trading sessions there); 0 when last < first."""
    if last < first:
        return 0
    days = (last - first).days + 1
    whole, rest = divmod(days, 7)
    return whole * 5 + sum(1 for k in range(rest) if (first.weekday() + k) % 7 < 5)


def first_bars_per_session(bar_size: str) -> int:
    """The conservative bars-per-session guess before any answer (a 300-minute session; 1 for 1d bars)."""
    return max(1, SHORTEST_SESSION_MINUTES * 60 // BAR_SECONDS[bar_size])


def bars_per_session(frame: pl.DataFrame) -> int | None:
    """The fewest bars of a New York date the answer holds whole (not its first or last date); None if none."""
    dates = frame.get_column("bar_date").drop_nulls()
    if dates.is_empty():
        return None
    counts = dates.value_counts()
    whole = counts.filter((pl.col("bar_date") != dates.min()) & (pl.col("bar_date") != dates.max()))
    return int(whole.get_column("count").min()) if whole.height else None  # type: ignore[arg-type]


def plan_call(series: BarSeries, window: DateWindow, start_time: dt.datetime, per_session: int) -> HistoryCall:
    """The next request ending at ``start_time``: enough for 1000 bars, or only what is left of the window."""
    last_date = trading_date(start_time - dt.timedelta(seconds=1))
    if series.bar_size in LONG_BARS:
        unit, cap = LONG_BARS[series.bar_size]
        days = (last_date - window.start).days
        needed = days // 7 + 2 if unit == "w" else days // 28 + 2
        return HistoryCall(start_time, f"{min(cap, needed)}{unit}", needed <= cap)
    needed = weekdays_between(window.start, last_date) + 1  # +1: a session may open the evening before
    full = min(MAX_DAYS, math.ceil(MAX_POINTS / per_session) + 1)  # +1: the session in progress at startTime
    return HistoryCall(start_time, f"{min(full, needed)}d", needed <= full)


def _in_window(frame: pl.DataFrame, window: DateWindow, before: dt.datetime) -> pl.DataFrame:
    """The rows of the window that start before the request's end; rows without a date stay (to be quarantined)."""
    date, start = pl.col("bar_date"), pl.col("bar_start_utc")
    keep = date.is_null() | (date.is_between(window.start, window.end) & (start.is_null() | (start < before)))
    return frame.filter(keep)


def fetch_bars(client: ApiClient, series: BarSeries, window: DateWindow) -> Iterator[pl.DataFrame]:
    """Yield the window's bars answer by answer, newest first, so callers stream them in bounded memory."""
    if series.bar_size not in BAR_SECONDS and series.bar_size not in LONG_BARS:
        raise ValueError(f"bar size {series.bar_size!r} is not one of {', '.join([*BAR_SECONDS, *LONG_BARS])}")
    start_time = window_end_utc(window)
    per_session = first_bars_per_session(series.bar_size) if series.bar_size in BAR_SECONDS else 1
    while True:
        call = plan_call(series, window, start_time, per_session)
        frame = parse_history(read_history(client, series, start_time=call.start_time, period=call.period), series)
        kept = _in_window(frame, window, call.start_time)
        if kept.height:
            yield kept  # unreadable points too: validation quarantines them with a reason
        first = frame.get_column("bar_start_utc").min()
        if not isinstance(first, dt.datetime):
            return  # "No data." (or no readable bar): nothing earlier
        if first >= call.start_time:
            raise IbkrPipelinesError(
                f"history for conid {series.conid}: an answer ending at {call.start_time:%Y-%m-%d %H:%M} UTC "
                f"began at {first:%Y-%m-%d %H:%M} UTC; the chain would not move back"
            )
        if trading_date(first) < window.start or (call.final and frame.height < MAX_POINTS):
            return
        per_session = bars_per_session(frame) or per_session
        start_time = first
