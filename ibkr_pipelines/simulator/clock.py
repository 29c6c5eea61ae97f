"""The simulated date (movable by tests), an optional time of day, and helpers that turn them into timestamps.

The date is what every answer reflects (the state at the close of that date). The time of day is read
only by what IBKR ties to the hour: Account Management statements (ready after midnight ET), scheduled
downtime (reference §3.1, §3.3) and funding instructions, which move at an instant (§3.4,
funding_program.py). Unset, the simulated "now" is the close of the date (21:00 UTC), as it has always
been; set, it is that New York wall time on the simulated date.
"""

from __future__ import annotations

import datetime
import threading
from zoneinfo import ZoneInfo

UTC = datetime.timezone.utc
# IBKR's day closes in New York (reference §2.6 counts trade days, §2.7 writes PA dates in EST/EDT).
NEW_YORK = ZoneInfo("America/New_York")


class SimClock:
    """Holds the simulated 'today'; answers reflect the state at the close of that date."""

    def __init__(self, today: datetime.date, time_of_day: datetime.time | None = None) -> None:
        self._today = today
        self._time = time_of_day
        self._lock = threading.Lock()

    @property
    def today(self) -> datetime.date:
        """The current simulated date."""
        return self._today

    @property
    def time_of_day(self) -> datetime.time | None:
        """The New York wall time of the simulated now, or None for the close of the date."""
        return self._time

    def set_today(self, today: datetime.date) -> None:
        """Move the clock (forward or back); the time of day stays as set."""
        with self._lock:
            self._today = today

    def set_time(self, time_of_day: datetime.time | None) -> None:
        """Set the New York wall time of the simulated now (None: back to the close of the date)."""
        if time_of_day is not None and time_of_day.tzinfo is not None:
            raise ValueError("the simulated time of day is a New York wall time, without a zone")
        with self._lock:
            self._time = time_of_day

    def now(self) -> datetime.datetime:
        """The simulated instant: the date at the time of day in New York, or the date's close when unset."""
        with self._lock:
            return sim_instant(self._today, self._time)

    def close_epoch_s(self) -> int:
        """Epoch seconds of the simulated close (21:00 UTC) of today, used for `timestamp` fields."""
        return close_epoch_s(self._today)


def close_epoch_s(d: datetime.date) -> int:
    """Epoch seconds of 21:00 UTC on ``d`` (roughly the US close), a stable per-date timestamp."""
    return int(close_datetime(d).timestamp())


def close_datetime(d: datetime.date) -> datetime.datetime:
    """The simulated close of ``d`` (21:00 UTC): the sim's "now" when its clock reads ``d``."""
    return datetime.datetime(d.year, d.month, d.day, 21, 0, tzinfo=UTC)


def sim_instant(d: datetime.date, time_of_day: datetime.time | None) -> datetime.datetime:
    """``d`` at the New York wall time ``time_of_day`` (an aware instant), or the close of ``d`` for None."""
    if time_of_day is None:
        return close_datetime(d)
    return datetime.datetime.combine(d, time_of_day, tzinfo=NEW_YORK)


def new_york_date(t: datetime.datetime) -> datetime.date:
    """The New York calendar date of an aware instant."""
    return t.astimezone(NEW_YORK).date()


def last_business_day(d: datetime.date) -> datetime.date:
    """``d`` itself on a business day, else the Friday before."""
    while d.weekday() >= 5:
        d -= datetime.timedelta(days=1)
    return d


def is_business_day(d: datetime.date) -> bool:
    """Monday to Friday (holidays are not modelled)."""
    return d.weekday() < 5


def business_day_after(d: datetime.date, n: int = 1) -> datetime.date:
    """The n-th business day (Monday to Friday; holidays are not modelled here) after ``d``."""
    while n > 0:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5:
            n -= 1
    return d


def business_days(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """Every business day in [start, end]."""
    out = []
    d = start
    one = datetime.timedelta(days=1)
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += one
    return out
