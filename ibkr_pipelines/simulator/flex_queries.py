"""Flex tokens and queries the simulator serves (reference §4): who may ask, for what, in which layout.

A Flex query is configured once in IBKR's portal (sections, period, date format, one statement per day
or one per period) and named by its id; a token (Reports → Settings → Flex Web Service) may run its
user's queries. Here both are plain config (``FlexConfig``); the defaults below are what ``serve`` prints
and what a demo uses:

- token ``DEFAULT_TOKEN``, running every default query;
- ``900001`` "Daily Activity": the last business day, one statement per account and day, every section,
  ``yyyyMMdd`` dates, ``;`` then ``HHmmss`` times (the recording cash-transactions.xml's layout);
- ``900002`` "Activity Last 365 Days": one statement per account and business day, every section but
  OpenPositions, ``yyyy-MM-dd;HH:mm:ss EDT`` (the recording trade-confirmations.xml's layout), with the
  novelties (as 900003);
- ``900003`` "History Since Inception": one statement per account for everything since the world's
  first day (multi-year), every section, ``MM/dd/yyyy,HH:mm:ss``, with the novelties: now and then an
  attribute or a section the parser has never seen (flex_statement.py);
- ``900004`` "Cash Transactions - API": CashTransactions only, Last365CalendarDays, one per day (the
  recording cash-transactions.xml);
- ``900005`` "Trade Confirmations": a TCF query (TradeConfirms, recording trade-confirmations.xml), one
  statement per account for the period (the last business day, or SendRequest's fd/td).

Any query takes SendRequest's ``fd``/``td`` (yyyyMMdd) instead of its period: guess (not in the
reference; IBKR's newer documentation is said to have them), capped at ``max_range_days``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from ibkr_pipelines.simulator.clock import last_business_day

# The FlexStatement sections the simulator writes, in the order a statement lists them (reference §4.3).
SECTIONS = ("AccountInformation", "ChangeInNAV", "EquitySummaryInBase", "OpenPositions", "Trades",
            "CorporateActions", "CashTransactions", "Transfers", "ConversionRates")
TCF_SECTIONS = ("TradeConfirms",)  # a Trade Confirmation Flex query (reference §4.3: type TCF)
# Period names as FlexStatement's ``period`` writes them. "Last365CalendarDays": recording
# cash-transactions.xml; the others: guess (IBKR's portal offers them under these names in words);
# "SinceInception" is ours: a multi-year range from the world's first day.
PERIODS = ("LastBusinessDay", "LastBusinessWeek", "MonthToDate", "YearToDate", "Last365CalendarDays",
           "SinceInception")
# Reference §4.3: the date and time formats and the date/time separators a user can choose.
DATE_FORMATS = {"yyyyMMdd": "%Y%m%d", "yyyy-MM-dd": "%Y-%m-%d", "MM/dd/yyyy": "%m/%d/%Y", "MM/dd/yy": "%m/%d/%y",
                "dd/MM/yyyy": "%d/%m/%Y"}
TIME_FORMATS = {"HHmmss": "%H%M%S", "HH:mm:ss": "%H:%M:%S"}
SEPARATORS = (";", ",", " ", "T", "")

# Guess: IBKR's tokens are long digit strings (ibflex's tests use "DEADBEEF"); this one is ours.
DEFAULT_TOKEN = "701000000000000000000007"


@dataclass(frozen=True)
class FlexQuery:
    """One saved Flex query: its id, sections, period and layout."""

    query_id: str
    name: str
    sections: tuple[str, ...] = SECTIONS
    period: str = "LastBusinessDay"
    per_day: bool = True  # one FlexStatement per account and business day, else one per account (reference §4.3)
    date_format: str = "yyyyMMdd"
    time_format: str = "HHmmss"
    separator: str = ";"
    time_zone: bool = False  # " EDT"/" EST" after each time (recording trade-confirmations.xml)
    accounts: tuple[str, ...] = ()  # () : every account of the user, closed ones included
    # Now and then an attribute or a section the parser has never seen (reference §7 theme 8: IBKR keeps
    # adding them). Which rows and statements carry one is fixed by their ids, never random.
    novelties: bool = False
    query_type: str = "AF"  # FlexQueryResponse ``type``: AF activity, TCF trade confirmations (reference §4.3)

    def __post_init__(self) -> None:
        known = SECTIONS + TCF_SECTIONS
        unknown = [s for s in self.sections if s not in known]
        if unknown or not self.sections:
            raise ValueError(f"flex query {self.query_id}: unknown sections {unknown} (known: {', '.join(known)})")
        if self.period not in PERIODS:
            raise ValueError(f"flex query {self.query_id}: period must be one of {', '.join(PERIODS)}")
        if self.date_format not in DATE_FORMATS or self.time_format not in TIME_FORMATS:
            raise ValueError(f"flex query {self.query_id}: date format one of {', '.join(DATE_FORMATS)}, "
                             f"time format one of {', '.join(TIME_FORMATS)}")
        if self.separator not in SEPARATORS:
            raise ValueError(f"flex query {self.query_id}: separator must be one of {SEPARATORS}")

    def period_range(self, today: datetime.date, first: datetime.date) -> tuple[datetime.date, datetime.date]:
        """The dates the query's period covers when run on ``today`` (never before ``first``, the world's start).

        Every period ends the day before today: Activity data is refreshed once a day at close of business
        (reference §4.1). Last365CalendarDays runs from today - 365 (recording cash-transactions.xml: generated
        20260409, period 20250409-20260408); the other periods: guess.
        """
        end = today - datetime.timedelta(days=1)
        if self.period == "LastBusinessDay":
            end = last_business_day(end)
            start = end
        elif self.period == "LastBusinessWeek":  # Monday to Friday of the last week that ended
            end -= datetime.timedelta(days=(end.weekday() - 4) % 7)
            start = end - datetime.timedelta(days=4)
        elif self.period == "MonthToDate":
            start = end.replace(day=1)
        elif self.period == "YearToDate":
            start = end.replace(month=1, day=1)
        elif self.period == "Last365CalendarDays":
            start = today - datetime.timedelta(days=365)
        else:  # SinceInception
            start = first
        return max(start, first), max(end, first)


@dataclass(frozen=True)
class FlexToken:
    """A Flex Web Service token: the queries it may run, when it expires, which addresses may use it."""

    token: str
    query_ids: tuple[str, ...]
    expires: datetime.date | None = None  # the first simulated date it answers 1012 (reference §4.1: tokens expire)
    allowed_ips: tuple[str, ...] = ()  # () : any address; else others get 1013 (IBKR lets a user restrict IPs)


def _default_queries() -> tuple[FlexQuery, ...]:
    """The demo's queries (module docstring)."""
    no_positions = tuple(s for s in SECTIONS if s != "OpenPositions")
    return (
        FlexQuery("900001", "Daily Activity"),
        FlexQuery("900002", "Activity Last 365 Days", no_positions, "Last365CalendarDays", True, "yyyy-MM-dd",
                  "HH:mm:ss", ";", time_zone=True, novelties=True),
        FlexQuery("900003", "History Since Inception", SECTIONS, "SinceInception", False, "MM/dd/yyyy",
                  "HH:mm:ss", ",", novelties=True),
        FlexQuery("900004", "Cash Transactions - API", ("CashTransactions",), "Last365CalendarDays", True),
        FlexQuery("900005", "Trade Confirmations", TCF_SECTIONS, "LastBusinessDay", False, "yyyy-MM-dd",
                  "HH:mm:ss", ";", time_zone=True, query_type="TCF"),
    )


DEFAULT_QUERIES = _default_queries()


@dataclass(frozen=True)
class FlexConfig:
    """The Flex Web Service's tokens, queries and limits."""

    tokens: tuple[FlexToken, ...] = (FlexToken(DEFAULT_TOKEN, tuple(q.query_id for q in DEFAULT_QUERIES)),)
    queries: tuple[FlexQuery, ...] = DEFAULT_QUERIES
    # Reference §4.1, §5.2: 1 request per second and 10 per minute per token, answered 1018. Windows as
    # (count, seconds); the simulator's own setting may shorten them for fast tests.
    windows: tuple[tuple[int, float], ...] = ((1, 1.0), (10, 60.0))
    # Guess: how many GetStatement calls of a reference code answer 1019 once its data is there (IBKR
    # publishes no generation time; ibflex waits 5 s after a 1019).
    generation_polls: int = 1
    max_range_days: int = 365  # guess: the longest fd..td span SendRequest takes (longer: 1020)
    reference_codes_kept: int = 1000  # guess: older reference codes are forgotten (then 1017)
    _by_id: dict[str, FlexQuery] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {q.query_id: q for q in self.queries}
        if len(by_id) != len(self.queries):
            raise ValueError("flex queries: two queries share an id")
        if len({t.token for t in self.tokens}) != len(self.tokens):
            raise ValueError("flex tokens: a token is listed twice")
        if self.generation_polls < 0 or self.max_range_days < 1 or self.reference_codes_kept < 1:
            raise ValueError("flex: generation_polls >= 0, max_range_days >= 1, reference_codes_kept >= 1")
        if any(n < 1 or s <= 0 for n, s in self.windows):
            raise ValueError("flex windows: (count >= 1, seconds > 0) each")
        object.__setattr__(self, "_by_id", by_id)

    def query(self, query_id: str) -> FlexQuery | None:
        """The query with this id, or None."""
        return self._by_id.get(query_id)

    def token(self, token: str) -> FlexToken | None:
        """The token record of this token text, or None."""
        return next((t for t in self.tokens if t.token == token), None)

    def describe(self) -> list[str]:
        """One line per token and query (for ``serve`` to print): what a demo needs to call Flex."""
        lines = []
        for t in self.tokens:
            lines.append(f"Flex token {t.token}: queries {', '.join(t.query_ids)}")
        for q in self.queries:
            shape = "one statement per account and day" if q.per_day else "one statement per account"
            lines.append(f"Flex query {q.query_id} {q.name!r}: {q.period}, {shape}, {', '.join(q.sections)}")
        return lines
