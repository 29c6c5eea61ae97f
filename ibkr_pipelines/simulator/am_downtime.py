"""Account Management scheduled downtime (reference §3.1's table), judged on the simulated clock.

An endpoint module names the schedule its routes follow (``am_route(..., downtime=REPORTS)``); the
simulator answers 503 inside a window (am_guard.py). Times are New York wall times, as the reference
gives them ("ET"). guess: a window includes its start and excludes its end ("6:00-6:01 pm" is the
minute from 18:00:00 to 18:00:59).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ibkr_pipelines.simulator.clock import NEW_YORK

EVERY_DAY = frozenset(range(7))
_TUESDAY, _SATURDAY, _SUNDAY = 1, 5, 6


@dataclass(frozen=True)
class Window:
    """From ``start`` to ``end`` (New York time) on each of ``weekdays`` (Monday 0); ``end`` None is midnight after.

    An ``end`` earlier than ``start`` runs past midnight into the next day (the banking 11:45 pm-12:30 am).
    """

    weekdays: frozenset[int]
    start: datetime.time
    end: datetime.time | None

    def covers(self, local: datetime.datetime) -> bool:
        """Whether the New York wall time ``local`` falls inside this window."""
        t = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.end is None:
            return day in self.weekdays and t >= self.start
        if self.end > self.start:
            return day in self.weekdays and self.start <= t < self.end
        # past midnight: the evening part on a listed day, the morning part on the day after one
        return (day in self.weekdays and t >= self.start) or ((day - 1) % 7 in self.weekdays and t < self.end)


@dataclass(frozen=True)
class Downtime:
    """A row of the reference's downtime table: its endpoints' name and windows, and the text a refusal gives."""

    name: str
    windows: tuple[Window, ...]
    text: str

    def down(self, now: datetime.datetime) -> bool:
        """Whether the aware instant ``now`` falls in one of the windows."""
        local = now.astimezone(NEW_YORK)
        return any(w.covers(local) for w in self.windows)


def _t(hour: int, minute: int = 0) -> datetime.time:
    return datetime.time(hour, minute)


# Reference §3.1 row 1: accounts, statements, tax-documents, enumerations.
REPORTS = Downtime(
    "accounts, statements, tax-documents, enumerations",
    (Window(EVERY_DAY, _t(18), _t(18, 1)), Window(frozenset({_SUNDAY, _TUESDAY}), _t(18), _t(18, 30))),
    "daily 6:00-6:01 pm ET; Sundays and Tuesdays 6:00-6:30 pm ET",
)
# Reference §3.1 row 2: the banking endpoints (bank-instructions, client-instructions, instruction*,
# external-*, internal*): the funding routes follow it (am_funding.py).
BANKING = Downtime(
    "the banking endpoints",
    (Window(EVERY_DAY, _t(23, 45), _t(0, 30)), Window(frozenset({_SATURDAY}), _t(0), None),
     Window(frozenset({_SUNDAY}), _t(0), _t(15))),
    "daily 11:45 pm-12:30 am ET; all of Saturday; Sunday before 3 pm ET",
)
