"""GET /iserver/marketdata/history and /hmds/history: bars of the world's seeded price paths.

Bars come from bars.py (a day's bar is exactly the aggregate of its minute bars; the regular session
closes at ``world.price``), sessions and holidays from market_hours.py. Every bar is a function of
(seed, conid, bar size, source, outsideRth, bar start) only, and is always whole: a request selects
bars by their start time, never cuts one, so overlapping requests agree bar for bar.

The window (reference §2.8 and the OpenAPI copy's parameter texts):

- ``direction`` -1 (default): the period ends at ``startTime`` (or now) and counts back: bars whose
  start t satisfies begin <= t < startTime. ``direction`` 1: the period begins at ``startTime``:
  startTime <= t < end.
- ``period`` in ``min``/``h``/``S`` is wall-clock time; ``w``, ``m``, ``y`` are calendar weeks, months,
  years; ``d`` counts trading sessions of the contract's market, the one in progress at ``startTime``
  included (guess: as TWS's "N D" durations do, so ``1d`` before a Monday's open is Friday's session).
- "now" is the end of the simulated date's last session: the simulator answers as of the close of
  its date, with every session of that date complete; a later ``startTime`` reads as now.
- At most 1000 points (reference §2.8 "at most 1000 data points per response"). Guess: a window with
  more is truncated, not refused, keeping the 1000 bars nearest ``startTime`` (the newest for -1, the
  oldest for 1), so the next request's ``startTime`` is the first (or after the last) bar's start.
  The "step size" table (conduit docs/ibkr-web-api-spec.md) is not enforced: guess, any bar fits any period.
- No bar in the window: ``{"error":"No data."}`` (reference §2.8, §6). Its status is not documented;
  ibind (ibkr_utils.cleanup_market_history_responses) finds it in the text of an HTTP error, so it is
  not a 200: guess, 400.

Availability (conduit docs/ibkr-web-api-spec.md "Unavailable Historical Data", a copy of IBKR's page):
expired options and matured bonds have no data at all; an expired future has bars up to its expiry,
for two years after it. Every contract lists on the world's first day (guess). Holidays and weekends
have no bars; the world still prices them (world.price and the valuation views), history skips them.
"""

from __future__ import annotations

import bisect
import datetime
import time
import zlib
from typing import Any, Callable, Mapping, TypeVar

from ibkr_pipelines.simulator.bars import MIDPOINT, TRADES, Bar, BarMaker, Day, aggregate, decimals
from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import UTC
from ibkr_pipelines.simulator.history_params import (
    DAY,
    NO_DATA,
    WEEK,
    HistoryError,
    HistoryQuery,
    parse_query,
)
from ibkr_pipelines.simulator.lru import Lru
from ibkr_pipelines.simulator.market_hours import Market, Session, market_for, session, trading_dates
from ibkr_pipelines.simulator.world import World

T = TypeVar("T")

MAX_POINTS = 1000  # reference §2.8
# guess: an expired future's bars stay available this long after its expiry (IBKR: "older than two years").
EXPIRED_FUTURE_DAYS = 730
# Reference §2.8: ``mktDataDelay`` is 900 for delayed data.
DELAYED_SECONDS = 900


class HistoryBuilder:
    """Answers history requests from one world; its caches are bounded (bars.py, this class)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.bars = BarMaker(world)
        self._sessions = Lru(64)
        self._session_bars = Lru(512)  # bars wider than a minute (minute bars live in bars.py's cache)
        self._daily = Lru(100_000)

    # -- what exists --
    def available(self, c: Contract, today: datetime.date) -> tuple[datetime.date, datetime.date] | None:
        """First and last date with bars as of ``today``, or None when IBKR keeps none for the contract."""
        last = today
        if c.expiry is not None and c.expiry < today:
            if c.asset_class == "FUT" and (today - c.expiry).days <= EXPIRED_FUTURE_DAYS:
                last = c.expiry
            else:
                return None  # expired options, matured bonds, futures expired more than two years ago
        return (self.world.start, last) if last >= self.world.start else None

    def sessions(self, market: Market, first: datetime.date, last: datetime.date) -> list[Session]:
        """The sessions of every trading date of a market in [first, last]."""
        return self._sessions.get((market, first, last),  # type: ignore[return-value]
                                  lambda: [session(market, d) for d in trading_dates(market, first, last)])

    # -- the answer --
    def answer(self, query: Mapping[str, str], today: datetime.date, hmds: bool = False) -> dict[str, Any]:
        """The body for one request, or HistoryError (bad parameters, unknown conid, no data)."""
        began = time.perf_counter()
        q = parse_query(query, hmds)
        c = self.world.contracts.get(q.conid)
        if c is None:
            raise HistoryError(400, f"Bad Request: conid is not valid: {q.conid}")  # guess: status and text
        if not q.source or (q.source == TRADES and c.asset_class == "CASH"):
            # TWS API "Historical Bar whatToShow": TRADES is not offered for Forex; guess: IBKR answers "No data.".
            raise HistoryError(400, NO_DATA)
        market = market_for(c)
        span = self.available(c, today)
        sessions = self.sessions(market, *span) if span else []
        if not sessions:
            raise HistoryError(400, NO_DATA)
        begin, end = self._window(q, sessions)
        bars = self._select(c, market, sessions, q, begin, end) if begin < end else []
        if not bars:
            raise HistoryError(400, NO_DATA)
        bars = bars[-MAX_POINTS:] if q.direction == -1 else bars[:MAX_POINTS]
        return self._body(c, market, sessions, q, bars, today, began)

    def _window(self, q: HistoryQuery, sessions: list[Session]) -> tuple[int, int]:
        """[begin, end) in epoch ms."""
        eth = q.outside_rth
        now = sessions[-1].end(eth)
        ref = min(int(q.start.timestamp()), now) if q.start is not None else now
        p = q.period
        if p.unit == "d":
            if q.direction == -1:
                i = bisect.bisect_left([s.start(eth) for s in sessions], ref)  # sessions starting before ref
                return (sessions[max(0, i - p.n)].start(eth) * 1000, ref * 1000) if i else (0, 0)
            j = bisect.bisect_right([s.end(eth) for s in sessions], ref)  # first session ending after ref
            if j >= len(sessions):
                return 0, 0
            return ref * 1000, sessions[min(len(sessions), j + p.n) - 1].end(eth) * 1000
        if q.direction == -1:
            return _shift(ref, p.n, p.unit, -1) * 1000, ref * 1000
        return ref * 1000, min(_shift(ref, p.n, p.unit, 1), now) * 1000

    def _select(self, c: Contract, market: Market, sessions: list[Session], q: HistoryQuery, begin: int,
                end: int) -> list[Bar]:
        """The bars whose start lies in [begin, end), at most MAX_POINTS of them from the reference side."""
        eth = q.outside_rth
        inside = [s for s in sessions if s.end(eth) * 1000 > begin and s.start(eth) * 1000 < end]
        if q.bar_seconds >= WEEK:
            return self._long_bars(c, market, sessions, q, begin, end)
        if q.bar_seconds == DAY:
            return [b for b in (self.daily_bar(c, market, s, q.source, eth) for s in inside)
                    if begin <= b[0] < end]
        picked: list[list[Bar]] = []
        count = 0
        for s in (reversed(inside) if q.direction == -1 else inside):
            chunk = [b for b in self.session_bars(c, market, s, q) if begin <= b[0] < end]
            picked.append(chunk)
            count += len(chunk)
            if count >= MAX_POINTS:
                break
        if q.direction == -1:
            picked.reverse()
        return [b for chunk in picked for b in chunk]

    # -- bars --
    def _day(self, c: Contract, market: Market, s: Session) -> Day:
        prev = s.date - datetime.timedelta(days=1)
        while prev >= self.world.start and not market.is_trading_date(prev):
            prev -= datetime.timedelta(days=1)
        return self.bars.day(c, market, s.date, prev if prev >= self.world.start else None)

    def daily_bar(self, c: Contract, market: Market, s: Session, source: str,
                  outside_rth: bool) -> Bar:
        """A session's bar: the aggregate of its parts (for quote sources, of its minutes); cached."""
        key = (c.conid, s.date, source, outside_rth)
        return self._daily.get(key, lambda: self._make_daily_bar(c, market, s, source, outside_rth))  # type: ignore[return-value]

    def _make_daily_bar(self, c: Contract, market: Market, s: Session, source: str, outside_rth: bool) -> Bar:
        day = self._day(c, market, s)
        parts = s.parts(outside_rth)
        if source == TRADES or (source == MIDPOINT and c.asset_class == "CASH"):
            pieces = [self.bars.part_bar(c, day, s, part, source) for part in parts]
        else:
            pieces = [b for part in parts for b in self.bars.minutes(c, day, s, part, source)]
        return aggregate(pieces, source, decimals(c))

    def session_bars(self, c: Contract, market: Market, s: Session, q: HistoryQuery) -> list[Bar]:
        """A session's intraday bars of one size, aligned to the exchange's clock (cached)."""
        if q.bar_seconds == 60:
            return self._make_session_bars(c, market, s, q)
        key = (c.conid, s.date, q.bar_seconds, q.source, q.outside_rth)
        return self._session_bars.get(key, lambda: self._make_session_bars(c, market, s, q))  # type: ignore[return-value]

    def _make_session_bars(self, c: Contract, market: Market, s: Session, q: HistoryQuery) -> list[Bar]:
        day = self._day(c, market, s)
        minutes = [b for part in s.parts(q.outside_rth) for b in self.bars.minutes(c, day, s, part, q.source)]
        if q.bar_seconds == 60:
            return minutes
        return [aggregate(group, q.source, decimals(c))
                for group in _bar_groups(minutes, _clock_offset(market, s, q), q.bar_seconds, lambda b: b[0])]

    def session_bar_starts(self, market: Market, s: Session, q: HistoryQuery) -> list[int]:
        """Start (epoch ms) of each of a session's intraday bars of one size: their clock, without drawing a price."""
        starts = [t for part in s.parts(q.outside_rth) for t in s.minute_starts(part)]
        if q.bar_seconds == 60:
            return starts
        return [group[0] for group in _bar_groups(starts, _clock_offset(market, s, q), q.bar_seconds, lambda t: t)]

    def _long_bars(self, c: Contract, market: Market, sessions: list[Session], q: HistoryQuery, begin: int,
                   end: int) -> list[Bar]:
        """Weekly (ISO week) or monthly bars of whole sessions; a bar starts with its first session."""
        groups: dict[tuple[int, int], list[Session]] = {}
        for s in sessions:
            key = s.date.isocalendar()[:2] if q.bar_seconds == WEEK else (s.date.year, s.date.month)
            groups.setdefault(key, []).append(s)
        out = []
        for members in groups.values():
            if begin <= members[0].start(q.outside_rth) * 1000 < end:
                daily = [self.daily_bar(c, market, s, q.source, q.outside_rth) for s in members]
                out.append(aggregate(daily, q.source, decimals(c)))
        return out

    # -- the body --
    def _body(self, c: Contract, market: Market, sessions: list[Session], q: HistoryQuery, bars: list[Bar],
              today: datetime.date, began: float) -> dict[str, Any]:
        dec = decimals(c)
        factor = 10 ** dec  # guess for non-2-decimal contracts: priceFactor = 10^decimals shown
        volume_unit = 100.0 if c.asset_class == "STK" else 1.0
        first = bars[0][0]
        hi = max(bars, key=lambda b: b[2])
        lo = min(bars, key=lambda b: b[3])

        def extreme(b: Bar, price: float) -> str:
            # Reference §2.8: ``price*priceFactor/volume/minutesFromStart``; the volume is that bar's ``v``
            # (OpenAPI iserverHistoryLastSuccessExample: "21394/266616.18/1440" is the 1440-minute bar's v).
            return f"{round(price * factor)}/{b[5] / volume_unit:.10g}/{(b[0] - first) // 60_000}"

        start = datetime.datetime.fromtimestamp(first / 1000, tz=UTC)
        rth_minutes = sessions[-1].minutes(False)
        return {
            "serverId": str(zlib.crc32(f"{self.world.seed}|hmds|{c.conid}".encode()) % 9_000_000 + 1_000_000),
            "symbol": c.symbol,
            "text": c.name,
            # Prices in ``data`` are plain prices; only ``high``/``low`` carry price*priceFactor: recording
            # MarketData/GET-history.json (priceFactor 100, o 646.42, high "65820/...") and the OpenAPI
            # examples (priceFactor 100, h 213.94, high "21394/...").
            "priceFactor": factor,
            "startTime": start.strftime("%Y%m%d-%H:%M:%S"),
            "high": extreme(hi, hi[2]),
            "low": extreme(lo, lo[3]),
            "timePeriod": q.period.text,
            "barLength": q.bar_seconds,  # guess for 1w/1m bars: 7 and 30 days in seconds
            # OpenAPI description: S = streaming, R = realtime, D = delayed, Z = frozen, Y = frozen delayed.
            # guess: the simulated login subscribes to US and European data only (market_hours.Market.subscribed).
            "mdAvailability": "S" if market.subscribed else "D",
            "mktDataDelay": 0 if market.subscribed else DELAYED_SECONDS,
            "outsideRth": q.outside_rth,
            # Recording: 390 (US regular hours); conduit docs/ibkr-web-api-spec.md example: 1440 with outsideRth.
            "tradingDayDuration": 1440 if q.outside_rth else rth_minutes,
            # OpenAPI text: "volume factor will always be 100 (reported volume = actual volume/100)"; yet the
            # recording says 40 and an IBKR example 1: ``v`` is shares/100 for stocks whatever this says.
            # guess: contracts (options, futures) and bonds are reported as they are, factor 1.
            "volumeFactor": int(volume_unit),
            "priceDisplayRule": 1,
            "priceDisplayValue": str(dec),
            "negativeCapable": False,
            "messageVersion": 2,
            # guess: the OpenAPI example's chartPanStartTime is the day after its last bar's request date.
            "chartPanStartTime": f"{today + datetime.timedelta(days=1):%Y%m%d}-00:00:00",
            "direction": q.direction,
            "data": [{"o": b[1], "c": b[4], "h": b[2], "l": b[3], "v": b[5] / volume_unit, "t": b[0]} for b in bars],
            "points": len(bars) - 1,  # reference §2.8: the bar count minus 1 in the examples
            "travelTime": max(1, round((time.perf_counter() - began) * 1000)),
        }


def _clock_offset(market: Market, s: Session, q: HistoryQuery) -> int:
    """Seconds from UTC of the exchange's clock at the session's first minute (bars wider than a minute align to it)."""
    # guess: bars start on the exchange's clock (a 1h bar at 10:00 local; the first one at the open).
    local = datetime.datetime.fromtimestamp(s.start(q.outside_rth), market.zone)
    return int(local.utcoffset().total_seconds())  # type: ignore[union-attr]


def _bar_groups(minutes: list[T], offset: int, width: int, start_ms: Callable[[T], int]) -> list[list[T]]:
    """Consecutive minutes grouped into bars ``width`` seconds wide on a clock ``offset`` seconds from UTC."""
    groups: list[list[T]] = []
    current = None
    for minute in minutes:
        bucket = (start_ms(minute) // 1000 + offset) // width
        if bucket != current:
            groups.append([])
            current = bucket
        groups[-1].append(minute)
    return groups


def _shift(epoch_s: int, n: int, unit: str, sign: int) -> int:
    """``epoch_s`` moved by n units: S, min, h exactly; w, m, y as calendar weeks, months, years."""
    seconds = {"S": 1, "min": 60, "h": 3600, "w": WEEK}.get(unit)
    if seconds:
        return epoch_s + sign * n * seconds
    t = datetime.datetime.fromtimestamp(epoch_s, UTC)
    months = n * (12 if unit == "y" else 1) * sign
    y, m = divmod(t.month - 1 + months, 12)
    y, m = t.year + y, m + 1
    last_day = (datetime.date(y + m // 12, m % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return int(t.replace(year=y, month=m, day=min(t.day, last_day)).timestamp())

