"""The simulated calendar date (movable by tests) and the helpers that turn it into timestamps."""

from __future__ import annotations

import datetime
import threading
from zoneinfo import ZoneInfo

UTC = datetime.timezone.utc
# IBKR's day closes in New York (reference §2.6 counts trade days, §2.7 writes PA dates in EST/EDT).
NEW_YORK = ZoneInfo("America/New_York")


class SimClock:
    """Holds the simulated 'today'; answers reflect the state at the close of that date.

    A New York time of day may be set with the date (``set_today(d, at)``): only what happens at an
    instant reads it (``now``: funding instructions and the banking downtime, am_funding.py); every
    other answer stays the close of ``today``. Without one, ``now`` is the close (21:00 UTC).
    """

    def __init__(self, today: datetime.date) -> None:
        self._today = today
        self._at: datetime.time | None = None
        self._lock = threading.Lock()

    @property
    def today(self) -> datetime.date:
        """The current simulated date."""
        return self._today

    def set_today(self, today: datetime.date, at: datetime.time | None = None) -> None:
        """Move the clock (forward or back), to the close of ``today`` or to New York time ``at`` on it."""
        with self._lock:
            self._today, self._at = today, at

    def now(self) -> datetime.datetime:
        """The simulated instant (aware): ``today`` at the time set in New York, else its close."""
        with self._lock:
            today, at = self._today, self._at
        if at is None:
            return close_datetime(today)
        return datetime.datetime.combine(today, at.replace(tzinfo=None), NEW_YORK)

    def close_epoch_s(self) -> int:
        """Epoch seconds of the simulated close (21:00 UTC) of today, used for `timestamp` fields."""
        return close_epoch_s(self._today)


def close_epoch_s(d: datetime.date) -> int:
    """Epoch seconds of 21:00 UTC on ``d`` (roughly the US close), a stable per-date timestamp."""
    return int(close_datetime(d).timestamp())


def close_datetime(d: datetime.date) -> datetime.datetime:
    """The simulated close of ``d`` (21:00 UTC): the sim's "now" when its clock reads ``d``."""
    return datetime.datetime(d.year, d.month, d.day, 21, 0, tzinfo=UTC)


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
