"""The simulated calendar date (movable by tests) and the helpers that turn it into timestamps."""

from __future__ import annotations

import datetime
import threading

UTC = datetime.timezone.utc


class SimClock:
    """Holds the simulated 'today'; answers reflect the state at the close of that date."""

    def __init__(self, today: datetime.date) -> None:
        self._today = today
        self._lock = threading.Lock()

    @property
    def today(self) -> datetime.date:
        """The current simulated date."""
        return self._today

    def set_today(self, today: datetime.date) -> None:
        """Move the clock (forward or back)."""
        with self._lock:
            self._today = today

    def close_epoch_s(self) -> int:
        """Epoch seconds of the simulated close (21:00 UTC) of today, used for `timestamp` fields."""
        return close_epoch_s(self._today)


def close_epoch_s(d: datetime.date) -> int:
    """Epoch seconds of 21:00 UTC on ``d`` (roughly the US close), a stable per-date timestamp."""
    return int(datetime.datetime(d.year, d.month, d.day, 21, 0, tzinfo=UTC).timestamp())


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
