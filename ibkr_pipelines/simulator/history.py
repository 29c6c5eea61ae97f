"""GET /iserver/marketdata/history: OHLCV bars derived deterministically from the world's daily closes.

A deliberately small model (the endpoint is a pacing target for now): a daily bar opens near the
previous close and closes at ``world.price(conid, d)``; weekly and monthly bars aggregate daily bars;
intraday bars follow a seeded Brownian bridge from the day's open to its close across the session
(13:30-20:00 UTC regular hours, 08:00-24:00 UTC with ``outsideRth``). Every number depends only on
(seed, conid, date, bar size, session), so two simulators of one seed answer alike.

Choices marked "unverified" are ours where IBKR's behaviour is not documented: the status of the
``No data.`` answer (400 here, so a client does not retry it as transient) and the 400 texts.
"""

from __future__ import annotations

import datetime
import math
import random
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any, Mapping

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import UTC
from ibkr_pipelines.simulator.world import World

MAX_POINTS = 1000
RTH_OPEN_MIN, RTH_MINUTES = 13 * 60 + 30, 390  # 13:30 UTC, 6.5 h (the recording's session)
ETH_OPEN_MIN, ETH_MINUTES = 8 * 60, 960  # 08:00-24:00 UTC
# Bars of 30 s or less are not served for windows older than six months (reference §2.8).
SMALL_BAR_SECONDS, SMALL_BAR_MAX_AGE_DAYS = 30, 182

_SPEC = re.compile(r"^\s*(\d+)\s*(min|mins|S|h|d|w|m|y)\s*$")
_BAR_UNITS = {"S": 1, "min": 60, "mins": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400}
_PERIOD_UNITS = {"S": 1, "min": 60, "mins": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400,
                 "y": 365 * 86400}
# Documented period ranges per unit: {1-30}min, {1-8}h, {1-1000}d, {1-792}w, {1-182}m, {1-15}y.
_PERIOD_MAX = {"S": 86400, "min": 30, "mins": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}


class HistoryError(Exception):
    """A request the endpoint refuses: HTTP status and IBKR-style error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar; ``t`` is epoch milliseconds at the bar's start."""

    o: float
    h: float
    l: float  # noqa: E741 - IBKR's key
    c: float
    v: float
    t: int

    def as_json(self) -> dict[str, Any]:
        """The ``data`` element IBKR sends."""
        return {"o": self.o, "c": self.c, "h": self.h, "l": self.l, "v": self.v, "t": self.t}


def parse_bar(text: str) -> tuple[str, int]:
    """A bar size such as ``5min`` or ``1d`` as (canonical text, seconds); 400 when unreadable."""
    m = _SPEC.match(text or "")
    if not m or int(m[1]) < 1:
        raise HistoryError(400, f"Bad Request: invalid bar: {text}")  # text unverified
    unit = "min" if m[2] == "mins" else m[2]
    return f"{int(m[1])}{unit}", int(m[1]) * _BAR_UNITS[unit]


def parse_period(text: str) -> tuple[str, int]:
    """A period such as ``1w`` or ``30min`` as (canonical text, seconds), within IBKR's ranges."""
    m = _SPEC.match(text or "")
    unit = ("min" if m[2] == "mins" else m[2]) if m else ""
    if not m or not 1 <= int(m[1]) <= _PERIOD_MAX[unit]:
        raise HistoryError(400, f"Bad Request: invalid period: {text}")  # text unverified
    return f"{int(m[1])}{unit}", int(m[1]) * _PERIOD_UNITS[unit]


def parse_start_time(text: str) -> datetime.datetime:
    """``startTime`` in UTC, ``YYYYMMDD-HH:mm:ss`` (also ``YYYYMMDD``)."""
    for fmt in ("%Y%m%d-%H:%M:%S", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise HistoryError(400, f"Bad Request: invalid startTime: {text}")  # text unverified


def _decimals(c: Contract) -> int:
    if c.asset_class == "CASH":
        return 3 if c.currency == "JPY" else 5
    if c.asset_class == "BOND":
        return 3
    if c.currency == "JPY" and c.asset_class != "OPT":
        return 0
    return 2


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _epoch_ms(d: datetime.date, minute_of_day: int) -> int:
    midnight = datetime.datetime(d.year, d.month, d.day, tzinfo=UTC)
    return int(midnight.timestamp() * 1000) + minute_of_day * 60_000


class HistoryBuilder:
    """Builds history answers from one world; stateless apart from the world."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._pos = {d: i for i, d in enumerate(world.days)}

    # -- daily bars --
    def daily_bar(self, c: Contract, d: datetime.date, outside_rth: bool = False) -> Bar:
        """The bar of business day ``d``: open near the previous close, close = ``world.price``."""
        w = self.world
        dec = _decimals(c)
        close = w.price(c.conid, d)
        i = self._pos[d]
        prev = w.price(c.conid, w.days[i - 1]) if i > 0 else close
        rng = random.Random(_seed(w.seed, "hist-day", c.conid, d.isoformat()))
        vol = max(c.daily_vol, 0.004)
        tick = 10.0 ** -dec
        o = max(tick, round(prev * (1 + rng.gauss(0.0, vol / 4)), dec))
        h = round(max(o, close) * (1 + abs(rng.gauss(0.0, vol / 2))), dec)
        lo = max(tick, round(min(o, close) * (1 - abs(rng.gauss(0.0, vol / 2))), dec))
        v = round(rng.uniform(2_000, 60_000), 2)
        start = ETH_OPEN_MIN if outside_rth else RTH_OPEN_MIN
        return Bar(o, h, lo, close, v, _epoch_ms(d, start))

    # -- intraday bars --
    def intraday_bars(self, c: Contract, d: datetime.date, bar_seconds: int, outside_rth: bool) -> list[Bar]:
        """Bars of one session: a seeded Brownian bridge from the day's open to its close."""
        day = self.daily_bar(c, d, outside_rth)
        open_min, minutes = (ETH_OPEN_MIN, ETH_MINUTES) if outside_rth else (RTH_OPEN_MIN, RTH_MINUTES)
        n = max(1, math.ceil(minutes * 60 / bar_seconds))
        dec = _decimals(c)
        tick = 10.0 ** -dec
        rng = random.Random(_seed(self.world.seed, "hist-intraday", c.conid, d.isoformat(), bar_seconds,
                                  outside_rth))
        sigma = max(c.daily_vol, 0.004) * day.c / math.sqrt(n)
        walk = [0.0]
        for _ in range(n):
            walk.append(walk[-1] + rng.gauss(0.0, sigma))
        path = [day.o + (day.c - day.o) * k / n + walk[k] - walk[n] * k / n for k in range(n + 1)]
        path = [max(tick, round(p, dec)) for p in path]
        start_ms = _epoch_ms(d, open_min)
        bars = []
        for k in range(n):
            o, cl = path[k], path[k + 1]
            wiggle = abs(rng.gauss(0.0, sigma / 3))
            h = round(max(o, cl) + wiggle, dec)
            lo = max(tick, round(min(o, cl) - wiggle, dec))
            v = round(day.v / n * rng.uniform(0.3, 1.7), 3)
            bars.append(Bar(o, h, lo, cl, v, start_ms + k * bar_seconds * 1000))
        return bars

    # -- the answer --
    def answer(self, query: Mapping[str, str], today: datetime.date) -> dict[str, Any]:
        """The body for one request, or HistoryError (unknown conid, bad params, no data)."""
        began = time.perf_counter()
        w = self.world
        raw_conid = str(query.get("conid", "")).strip()
        if not raw_conid:
            raise HistoryError(400, "Bad Request: conid is required")  # text unverified
        try:
            conid = int(raw_conid)
        except ValueError:
            raise HistoryError(400, f"Bad Request: conid is not valid: {raw_conid}") from None
        c = w.contracts.get(conid)
        if c is None:
            raise HistoryError(400, f"Bad Request: conid is not valid: {raw_conid}")  # text unverified
        if "bar" not in query:
            raise HistoryError(400, "Bad Request: bar is required")  # text unverified
        bar_text, bar_seconds = parse_bar(query["bar"])
        period_text, period_seconds = parse_period(query.get("period") or "1d")
        outside_rth = str(query.get("outsideRth", "false")).strip().lower() == "true"
        # The newest bar ends at the close of the simulated date (no bars from the clock's future).
        clock_end = datetime.datetime(today.year, today.month, today.day, tzinfo=UTC) + datetime.timedelta(days=1)
        end = min(parse_start_time(query["startTime"]), clock_end) if query.get("startTime") else clock_end
        begin = end - datetime.timedelta(seconds=period_seconds)
        end_ms, begin_ms = int(end.timestamp() * 1000), int(begin.timestamp() * 1000)
        if bar_seconds <= SMALL_BAR_SECONDS and (today - end.date()).days > SMALL_BAR_MAX_AGE_DAYS:
            raise HistoryError(400, "No data.")
        days = [d for d in w.days if d <= end.date()]
        if bar_seconds >= 86400:
            bars = self._long_bars(c, days, bar_text, begin_ms, end_ms, outside_rth)
        else:
            bars = self._short_bars(c, days, bar_seconds, begin_ms, end_ms, outside_rth)
        if not bars:
            raise HistoryError(400, "No data.")  # status unverified; the body text is IBKR's
        bars = bars[-MAX_POINTS:]
        return self._body(c, bars, bar_text, bar_seconds, period_text, outside_rth, began)

    def _long_bars(self, c: Contract, days: list[datetime.date], bar_text: str, begin_ms: int, end_ms: int,
                   outside_rth: bool) -> list[Bar]:
        picked: list[Bar] = []
        for d in reversed(days):
            b = self.daily_bar(c, d, outside_rth)
            if b.t >= end_ms:
                continue
            if b.t < begin_ms:
                if not picked:
                    picked.append(b)  # the last business day, when the period falls on a weekend
                break
            picked.append(b)
        picked.reverse()
        return picked if bar_text == "1d" else _aggregate(picked, bar_text)

    def _short_bars(self, c: Contract, days: list[datetime.date], bar_seconds: int, begin_ms: int, end_ms: int,
                    outside_rth: bool) -> list[Bar]:
        out: list[Bar] = []
        for d in reversed(days):
            if _epoch_ms(d, 24 * 60) <= begin_ms or len(out) >= MAX_POINTS:
                break
            session = [b for b in self.intraday_bars(c, d, bar_seconds, outside_rth) if begin_ms <= b.t < end_ms]
            out = session + out
        return out

    def _body(self, c: Contract, bars: list[Bar], bar_text: str, bar_seconds: int, period_text: str,
              outside_rth: bool, began: float) -> dict[str, Any]:
        dec = _decimals(c)
        factor = 10 ** dec
        first_ms = bars[0].t
        hi = max(bars, key=lambda b: b.h)
        lo = min(bars, key=lambda b: b.l)

        def extreme(b: Bar, price: float) -> str:
            """IBKR's ``price*priceFactor/volume/minutesFromStart`` form of the high or the low."""
            return f"{round(price * factor)}/{b.v:.10g}/{(b.t - first_ms) // 60_000}"

        start = datetime.datetime.fromtimestamp(first_ms / 1000, tz=UTC)
        w = self.world
        return {
            "serverId": str(_seed(w.seed, "hmds", c.conid) % 9_000_000 + 1_000_000),
            "symbol": c.symbol,
            "text": c.name,
            "priceFactor": factor,
            "startTime": start.strftime("%Y%m%d-%H:%M:%S"),
            "high": extreme(hi, hi.h),
            "low": extreme(lo, lo.l),
            "timePeriod": period_text,
            "barLength": bar_seconds,
            "mdAvailability": "S",
            "mktDataDelay": 0,
            "outsideRth": outside_rth,
            "tradingDayDuration": ETH_MINUTES if outside_rth else RTH_MINUTES,
            "volumeFactor": 1,
            "priceDisplayRule": 1,
            "priceDisplayValue": str(dec),
            "negativeCapable": False,
            "messageVersion": 2,
            "chartPanStartTime": f"{w.days[0]:%Y%m%d}-00:00:00",
            "direction": -1,
            "data": [b.as_json() for b in bars],
            "points": len(bars) - 1,
            "travelTime": max(1, round((time.perf_counter() - began) * 1000)),
        }


def _aggregate(daily: list[Bar], bar_text: str) -> list[Bar]:
    """N-day, weekly (``Nw``) or monthly (``Nm``) bars from daily bars (business days, ISO weeks, months)."""
    n = int(bar_text[:-1])
    unit = bar_text[-1]
    groups: dict[tuple[int, int], list[Bar]] = {}
    for i, b in enumerate(daily):
        d = datetime.datetime.fromtimestamp(b.t / 1000, tz=UTC).date()
        if unit == "d":
            key = (0, (len(daily) - 1 - i) // n * -1)  # groups of n ending with the newest day
        elif unit == "w":
            year, week, _ = d.isocalendar()
            key = (year, (week - 1) // n)
        else:
            key = (d.year, (d.month - 1) // n)
        groups.setdefault(key, []).append(b)
    return [Bar(g[0].o, max(b.h for b in g), min(b.l for b in g), g[-1].c, round(sum(b.v for b in g), 3), g[0].t)
            for _, g in sorted(groups.items())]
