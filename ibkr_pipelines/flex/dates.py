"""Flex dates and times in every layout a Flex query can be set to write.

A Flex query chooses its date format (yyyyMMdd, yyyy-MM-dd, MM/dd/yyyy, MM/dd/yy, dd/MM/yyyy,
dd/MM/yy, dd-MMM-yy), its time format (HHmmss, HH:mm:ss) and the separator between them (';', ',',
space, 'T' or none); IBKR may append a zone abbreviation (``2026-04-09;21:23:54 EDT``). A time
without a zone is New York time (IBKR's statements are in US/Eastern: an assumption, the
recordings either name EDT or nothing). Whether ``04/09/2026`` is April 9 or 4 September is not in
the value: the caller passes ``day_first`` (decided once per file, see ``day_order``); with None, a
value that reads both ways is unreadable rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE


class UnreadableValue(ValueError):
    """A Flex value that does not read as its column's type (kept raw by the caller)."""


MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# Zone abbreviations as fixed offsets (hours); "ET" (and no zone) is New York's own rule. IBKR writes
# EDT/EST; the rest are guesses at what an account elsewhere might see. An abbreviation not listed
# makes the value unreadable, not guessed.
ZONE_OFFSETS = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "UTC": 0, "GMT": 0, "Z": 0, "BST": 1, "CET": 1, "CEST": 2, "HKT": 8, "JST": 9,
}

_DATE = (
    r"(?:(?P<y8>\d{4})(?P<m8>\d{2})(?P<d8>\d{2})"  # yyyyMMdd
    r"|(?P<yi>\d{4})[-/](?P<mi>\d{1,2})[-/](?P<di>\d{1,2})"  # yyyy-MM-dd (yyyy/MM/dd: a guess)
    r"|(?P<f1>\d{1,2})/(?P<f2>\d{1,2})/(?P<fy>\d{4}|\d{2})"  # MM/dd/yyyy, dd/MM/yyyy, ... /yy
    r"|(?P<dn>\d{1,2})[- ](?P<mon>[A-Za-z]{3})[- ](?P<yn>\d{4}|\d{2}))"  # dd-MMM-yy, dd-MMM-yyyy
)
_TIME = r"(?:[;, T]?\s*(?P<hh>\d{2}):?(?P<mm>\d{2}):?(?P<ss>\d{2}))?"
_ZONE = r"(?:\s*(?P<zone>[A-Za-z]{1,5}))?"
_VALUE = re.compile(r"^\s*" + _DATE + _TIME + _ZONE + r"\s*$")


@dataclass(frozen=True)
class Moment:
    """A Flex date or date-time: its calendar date as written, and the instant (UTC) when a time is given."""

    day: dt.date
    instant: dt.datetime | None


def full_year(text: str) -> int:
    """A four-digit year from yyyy or yy (yy below 70 is 20yy: option expiries run years ahead)."""
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 70 else 1900 + year
    return year


def slash_fields(first: int, second: int, day_first: bool | None) -> tuple[int, int]:
    """(month, day) of a ``a/b/y`` date: by ``day_first``, else by a field above 12; unreadable when both could be."""
    if day_first is None:
        if first > 12 >= second:
            day_first = True
        elif second > 12 >= first:
            day_first = False
        elif first == second:
            day_first = False
        else:
            raise UnreadableValue("month and day order unknown")
    return (second, first) if day_first else (first, second)


def _calendar_day(match: re.Match[str], day_first: bool | None) -> dt.date:
    groups = match.groupdict()
    if groups["y8"]:
        year, month, day = int(groups["y8"]), int(groups["m8"]), int(groups["d8"])
    elif groups["yi"]:
        year, month, day = int(groups["yi"]), int(groups["mi"]), int(groups["di"])
    elif groups["f1"]:
        month, day = slash_fields(int(groups["f1"]), int(groups["f2"]), day_first)
        year = full_year(groups["fy"])
    else:
        month = MONTHS.get(groups["mon"].lower(), 0)
        year, day = full_year(groups["yn"]), int(groups["dn"])
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise UnreadableValue("no such date") from None


def _zone(name: str | None) -> dt.tzinfo:
    if name is None or name.upper() == "ET":
        return TRADING_TIMEZONE
    offset = ZONE_OFFSETS.get(name.upper())
    if offset is None:
        raise UnreadableValue(f"unknown time zone {name!r}")
    return dt.timezone(dt.timedelta(hours=offset))


@lru_cache(maxsize=8192)
def read_moment(text: str, day_first: bool | None) -> Moment:
    """A Flex date or date-time value -> Moment; raises UnreadableValue (cached: statements repeat their dates)."""
    match = _VALUE.match(text)
    if match is None:
        raise UnreadableValue("not a date")
    day = _calendar_day(match, day_first)
    if match["hh"] is None:
        if match["zone"] is not None:
            raise UnreadableValue("a zone without a time")
        return Moment(day, None)
    try:
        local = dt.datetime.combine(day, dt.time(int(match["hh"]), int(match["mm"]), int(match["ss"])))
    except ValueError:
        raise UnreadableValue("no such time") from None
    instant = local.replace(tzinfo=_zone(match["zone"])).astimezone(dt.timezone.utc)
    return Moment(day, instant)


def read_date(text: str, day_first: bool | None) -> dt.date:
    """The calendar date of a Flex date or date-time value (a time, if any, is ignored); raises UnreadableValue."""
    return read_moment(text, day_first).day


def read_instant(text: str, day_first: bool | None) -> dt.datetime | None:
    """The UTC instant of a Flex date-time value; None for a date without a time; raises UnreadableValue."""
    return read_moment(text, day_first).instant
