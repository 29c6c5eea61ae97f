"""The history endpoints' query parameters, read and checked as IBKR documents them.

Sources: reference §2.8 (bar sizes, period ranges, ``startTime`` in UTC ``YYYYMMDD-HH:mm:ss``,
``direction`` -1/1 with 1 only alongside ``startTime``, ``source`` Last/Trades, Midpoint, Bid_Ask;
``/hmds/history``'s ``barType`` Last, Bid, Ask, Midpoint, FeeRate, Inventory) and IBKR's OpenAPI copy
(conduit ``docs/ibkr-web-api-openapi.json``, /iserver/marketdata/history: ``period`` default ``1d``,
``direction`` default -1, ``source`` default ``Last``). The 400 texts are ours (unverified).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Mapping

from ibkr_pipelines.simulator.bars import ASK, BID, BID_ASK, MIDPOINT, TRADES
from ibkr_pipelines.simulator.clock import UTC

DAY, WEEK, MONTH = 86_400, 7 * 86_400, 30 * 86_400
# Reference §2.8 ``bar``: 1min ... 8h, 1d, 1w, 1m. Seconds bars (the OpenAPI also names an ``S`` unit)
# are not served: guess, answered 400 (the simulator draws nothing finer than a minute).
BAR_SECONDS = {"1min": 60, "2min": 120, "3min": 180, "5min": 300, "10min": 600, "15min": 900, "30min": 1800,
               "1h": 3600, "2h": 7200, "3h": 10_800, "4h": 14_400, "8h": 28_800, "1d": DAY, "1w": WEEK, "1m": MONTH}
# Reference §2.8 ``period``: {1-30}min, {1-8}h, {1-1000}d, {1-792}w, {1-182}m, {1-15}y; ``S`` (seconds) is
# an /hmds period unit (conduit docs/ibkr-web-api-spec.md "HMDS Period and Bar Size"), up to a day here (guess).
PERIOD_MAX = {"S": 86_400, "min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
_SPEC = re.compile(r"^\s*(\d+)\s*(S|mins?|h|d|w|m|y)\s*$")
# /iserver/marketdata/history ``source`` (OpenAPI: Last, Midpoint, Bid_Ask; campus copy: Trades for Last).
ISERVER_SOURCES = {"last": TRADES, "trades": TRADES, "midpoint": MIDPOINT, "bid_ask": BID_ASK}
# /hmds/history ``barType`` (reference §2.8). FeeRate and Inventory are stock-loan series the simulator does
# not draw: guess, answered "No data.".
HMDS_BAR_TYPES = {"last": TRADES, "midpoint": MIDPOINT, "bid": BID, "ask": ASK, "feerate": "", "inventory": ""}


class HistoryError(Exception):
    """A request the endpoint refuses: HTTP status and IBKR-style error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


NO_DATA = "No data."


@dataclass(frozen=True)
class Period:
    """A ``period``: its canonical text, count and unit (S, min, h, d, w, m, y)."""

    text: str
    n: int
    unit: str


@dataclass(frozen=True)
class HistoryQuery:
    """One history request, read: what to draw and which window of time to answer."""

    conid: int
    bar: str
    bar_seconds: int
    period: Period
    start: datetime.datetime | None  # ``startTime`` (UTC), the reference point of the window
    direction: int  # -1: the period ends at startTime (or now); 1: it begins at startTime
    source: str  # bars.TRADES, MIDPOINT, BID_ASK, BID, ASK, or "" for a series never drawn
    outside_rth: bool


def parse_bar(text: str) -> tuple[str, int]:
    """A bar size such as ``5min`` or ``1d`` as (canonical text, seconds); 400 when not one IBKR lists."""
    m = _SPEC.match(text or "")
    canonical = f"{int(m[1])}{'min' if m[2].startswith('min') else m[2]}" if m else ""
    if canonical not in BAR_SECONDS:
        raise HistoryError(400, f"Bad Request: invalid bar: {text}")
    return canonical, BAR_SECONDS[canonical]


def parse_period(text: str) -> Period:
    """A period such as ``1w`` or ``30min`` within IBKR's ranges; 400 otherwise."""
    m = _SPEC.match(text or "")
    unit = ("min" if m[2].startswith("min") else m[2]) if m else ""
    if not m or not 1 <= int(m[1]) <= PERIOD_MAX[unit]:
        raise HistoryError(400, f"Bad Request: invalid period: {text}")
    return Period(f"{int(m[1])}{unit}", int(m[1]), unit)


def parse_start_time(text: str) -> datetime.datetime:
    """``startTime`` in UTC, ``YYYYMMDD-HH:mm:ss`` (reference §2.8); ``YYYYMMDD`` is read as midnight (guess)."""
    for fmt in ("%Y%m%d-%H:%M:%S", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise HistoryError(400, f"Bad Request: invalid startTime: {text}")


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"


def parse_query(query: Mapping[str, str], hmds: bool = False) -> HistoryQuery:
    """Read and check every parameter of /iserver/marketdata/history (or /hmds/history)."""
    raw = str(query.get("conid", "")).strip()
    if not raw:
        raise HistoryError(400, "Bad Request: conid is required")
    try:
        conid = int(raw)
    except ValueError:
        raise HistoryError(400, f"Bad Request: conid is not valid: {raw}") from None
    if not query.get("bar"):
        raise HistoryError(400, "Bad Request: bar is required")
    bar, bar_seconds = parse_bar(query["bar"])
    period = parse_period(query.get("period") or "1d")
    start = parse_start_time(query["startTime"]) if query.get("startTime") else None
    raw_dir = str(query.get("direction") or "-1").strip()
    if raw_dir not in ("-1", "1"):
        raise HistoryError(400, f"Bad Request: invalid direction: {raw_dir}")
    direction = int(raw_dir)
    if direction == 1 and start is None:
        raise HistoryError(400, "Bad Request: direction 1 needs startTime")  # reference §2.8
    key, table = ("barType", HMDS_BAR_TYPES) if hmds else ("source", ISERVER_SOURCES)
    name = str(query.get(key) or "Last").strip().lower()
    if name not in table:
        raise HistoryError(400, f"Bad Request: invalid {key}: {query.get(key)}")
    return HistoryQuery(conid, bar, bar_seconds, period, start, direction, table[name], _flag(query.get("outsideRth")))
