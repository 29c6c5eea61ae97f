"""Account Management scheduled downtime (reference §3.1's table), judged on the simulated clock.

An endpoint module names the schedule its routes follow (``am_route(..., downtime=REPORTS)``); the
simulator answers 503 inside a window (am_guard.py). Times are New York wall times, as the reference
gives them ("ET"). guess: a window includes its start and excludes its end ("6:00-6:01 pm" is the
minute from 18:00:00 to 18:00:59). A refusal says when the endpoints answer again (``Downtime.back``),
following windows that meet: banking is down from Friday 11:45 pm to Sunday 3 pm ET in one stretch.
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

    def ends(self, local: datetime.datetime) -> datetime.datetime:
        """When the stretch of this window holding ``local`` (a New York wall time it covers) ends."""
        d = local.date()
        if self.end is None:
            return _at(d + _DAY, datetime.time(0))
        if self.end < self.start and d.weekday() in self.weekdays and local.time().replace(tzinfo=None) >= self.start:
            return _at(d + _DAY, self.end)  # the evening part runs to the morning after
        return _at(d, self.end)


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

    def back(self, now: datetime.datetime) -> datetime.datetime | None:
        """When the endpoints answer again after the aware instant ``now``, following windows that run into
        each other (Friday night into Saturday into Sunday afternoon); None when ``now`` is not down."""
        end = None
        local = now.astimezone(NEW_YORK)
        for _ in range(8):  # a week of back-to-back windows at most
            ends = [w.ends(local) for w in self.windows if w.covers(local)]
            if not ends:
                return end
            end = local = max(ends)
        return end


_DAY = datetime.timedelta(days=1)


def _at(d: datetime.date, t: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(d, t, tzinfo=NEW_YORK)


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
