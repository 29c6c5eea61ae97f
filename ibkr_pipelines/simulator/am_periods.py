"""Which Account Management statements exist at a simulated instant, and what period a StmtRequest names (§3.3).

Reference §3.3: statements cover "up to 2 years plus year-to-date", exist "only from the date the account
was funded", and "are ready around midnight ET". So, at a simulated instant:

- a day's statement is ready READY_AFTER past the midnight (New York) that ends it (guess: half an
  hour, "around midnight"); ``last_ready`` is the newest such day;
- the window starts on 1 January two years before the current New York year (the reference's example,
  answered in October 2024, starts on 20220101), or on the funding date when later;
- a month (a year) is listed once its last day is ready, when it ends on or after the funding date and
  starts inside the window (guess: a month or year in which the account was funded is listed and
  covers the days from the funding date; days are calendar days, weekends included).

A StmtRequest's dates (§3.3 table): ``YYYY`` annual, ``YYYYMM`` monthly, ``YYYYMMDD`` a day or a custom
range of at most 365 days. Guesses: both dates have one format; an annual or monthly request names one
period (startDate equal to endDate, as every reference example does); the 365 days count both ends.
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

from ibkr_pipelines.simulator.clock import NEW_YORK

READY_AFTER = datetime.timedelta(minutes=30)  # guess: "ready around midnight ET" (reference §3.3)
YEARS_BACK = 2  # reference §3.3: "up to 2 years plus year-to-date"
MAX_RANGE_DAYS = 365  # reference §3.3: a custom range can be at most 365 days
_DATE = re.compile(r"\d{4}|\d{6}|\d{8}")


def last_ready(now: datetime.datetime) -> datetime.date:
    """The newest day whose statement is ready at the aware instant ``now`` (READY_AFTER past its midnight ET)."""
    return (now.astimezone(NEW_YORK) - READY_AFTER).date() - datetime.timedelta(days=1)


def window_start(now: datetime.datetime) -> datetime.date:
    """The first day of "2 years plus year-to-date" at ``now``: 1 January, YEARS_BACK years before now's year (ET)."""
    return datetime.date(now.astimezone(NEW_YORK).year - YEARS_BACK, 1, 1)


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Availability:
    """What ``GET /statements/available`` lists: the daily range (None when no day is ready), months, years."""

    first: datetime.date | None
    last: datetime.date | None
    months: tuple[str, ...]
    years: tuple[str, ...]

    def body(self) -> dict[str, object]:
        """The ``value`` of the reference's envelope: daily {startDate, endDate}, monthly [YYYYMM], annual [YYYY].

        guess: with no day ready yet (an account funded today) ``daily`` is an empty object.
        """
        daily = {} if self.first is None or self.last is None else {
            "startDate": self.first.strftime("%Y%m%d"), "endDate": self.last.strftime("%Y%m%d")}
        return {"daily": daily, "monthly": list(self.months), "annual": list(self.years)}


def availability(funded: datetime.date, now: datetime.datetime) -> Availability:
    """The statements of an account funded on ``funded`` that exist at the aware instant ``now``."""
    last = last_ready(now)
    start = window_start(now)
    first = max(start, funded)
    if last < first:
        return Availability(None, None, (), ())
    months = []
    y, m = start.year, start.month
    while (y, m) <= (last.year, last.month):
        end = _month_end(y, m)
        if end <= last and end >= funded:
            months.append(f"{y:04d}{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    years = [str(y) for y in range(start.year, last.year + 1)
             if datetime.date(y, 12, 31) <= last and datetime.date(y, 12, 31) >= funded]
    return Availability(first, last, tuple(months), tuple(years))


@dataclass(frozen=True)
class Period:
    """The days a StmtRequest asks for: kind annual, monthly, daily or custom; first and last day; its label."""

    kind: str
    start: datetime.date
    end: datetime.date
    label: str


class PeriodError(ValueError):
    """A StmtRequest's dates cannot be read: the field at fault and why."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


def _day(field: str, text: str) -> datetime.date:
    """A YYYYMMDD date (PeriodError naming ``field`` when it is not one)."""
    try:
        return datetime.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise PeriodError(field, f"{text} is not a date (YYYYMMDD)") from None


def parse_period(start_text: object, end_text: object) -> Period:
    """The Period of a StmtRequest's startDate and endDate (reference §3.3 formats); PeriodError otherwise."""
    for field, text in (("startDate", start_text), ("endDate", end_text)):
        if not isinstance(text, str) or not _DATE.fullmatch(text):
            raise PeriodError(field, "must be YYYY (annual), YYYYMM (monthly) or YYYYMMDD (daily or custom range)")
    start_text, end_text = str(start_text), str(end_text)
    if len(start_text) != len(end_text):
        raise PeriodError("endDate", "must have the same format as startDate")
    if len(start_text) == 4:
        if start_text != end_text:
            raise PeriodError("endDate", "an annual statement names one year: endDate must equal startDate")
        year = int(start_text)
        if year < 1:
            raise PeriodError("startDate", f"{start_text} is not a year")
        return Period("annual", datetime.date(year, 1, 1), datetime.date(year, 12, 31), start_text)
    if len(start_text) == 6:
        if start_text != end_text:
            raise PeriodError("endDate", "a monthly statement names one month: endDate must equal startDate")
        year, month = int(start_text[:4]), int(start_text[4:])
        if year < 1 or not 1 <= month <= 12:
            raise PeriodError("startDate", f"{start_text} is not a month (YYYYMM)")
        return Period("monthly", datetime.date(year, month, 1), _month_end(year, month), start_text)
    start, end = _day("startDate", start_text), _day("endDate", end_text)
    if end < start:
        raise PeriodError("endDate", "must not be before startDate")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise PeriodError("endDate", f"a custom range can be at most {MAX_RANGE_DAYS} days")
    if start == end:
        return Period("daily", start, end, start_text)
    return Period("custom", start, end, f"{start_text}-{end_text}")
