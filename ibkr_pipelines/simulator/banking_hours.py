"""When the Account Management banking endpoints are down (reference §3.1's scheduled downtime).

Reference §3.1 [am-doc-copy]: banking endpoints (``bank-instructions``, ``client-instructions``,
``instruction*``, ``external-*``, ``internal*``) are down daily 11:45 pm-12:30 am ET, all of Saturday,
and Sunday before 3 pm ET. Read on the simulated clock (``SimClock.now``), New York wall time.
"""

from __future__ import annotations

import datetime

from ibkr_pipelines.simulator.clock import NEW_YORK

_NIGHT_FROM, _NIGHT_TO = datetime.time(23, 45), datetime.time(0, 30)
_SUNDAY_UNTIL = datetime.time(15, 0)


def banking_downtime(t: datetime.datetime) -> tuple[str, datetime.datetime] | None:
    """(which window, when the endpoints are back) when banking endpoints are down at instant ``t``, else None."""
    found = _window(t)
    if found is None:
        return None
    name, end = found
    while (more := _window(end)) is not None:  # Friday night runs into Saturday, Saturday into Sunday
        end = more[1]
    return name, end


def _window(t: datetime.datetime) -> tuple[str, datetime.datetime] | None:
    """The one window holding ``t`` and its own end, or None."""
    local = t.astimezone(NEW_YORK)
    day, clock = local.date(), local.time().replace(tzinfo=None)

    def at(d: datetime.date, hm: datetime.time) -> datetime.datetime:
        return datetime.datetime.combine(d, hm, NEW_YORK)

    if local.weekday() == 5:  # all of Saturday, and on through Sunday morning
        return "all of Saturday and Sunday before 3 pm ET", at(day + datetime.timedelta(days=1), _SUNDAY_UNTIL)
    if local.weekday() == 6 and clock < _SUNDAY_UNTIL:
        return "all of Saturday and Sunday before 3 pm ET", at(day, _SUNDAY_UNTIL)
    if clock >= _NIGHT_FROM:
        return "daily 11:45 pm to 12:30 am ET", at(day + datetime.timedelta(days=1), _NIGHT_TO)
    if clock < _NIGHT_TO:
        return "daily 11:45 pm to 12:30 am ET", at(day, _NIGHT_TO)
    return None
