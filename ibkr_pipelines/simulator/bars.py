"""Seeded price paths behind the history endpoint: a day's bar first, then minute bars that add up to it.

For each contract and trading date the day is drawn first, cheaply: the regular session opens near the
previous session's last price and closes at ``world.price`` (the world's close), with a high, a low and
a volume; markets with extended hours add a pre-market part (from the previous post-market close to the
open) and a post-market part (from the close to this day's post-market close). Minute bars of a part
are a seeded random walk bridged from the part's open to its close, stretched monotonically so that their
highest high and lowest low are exactly the part's, rounded to the contract's tick, with integer
volumes that sum to the part's. So a day's bar is, exactly, the aggregate of its minute bars, and every
number depends only on (seed, conid, date, part): overlapping requests agree.

Sources (reference §2.8 ``source``; TWS API "Historical Bar whatToShow" for what each bar holds):
``trades`` is the drawn path; ``midpoint`` is it moved by a per-day offset within half a spread (guess:
a constant offset, so a midpoint day bar is as cheap as a trades one; for FX, which has no trades,
the drawn path IS the midpoint and closes at ``world.price``); ``bid_ask`` bars hold the
time-average bid (o), the highest ask (h), the lowest bid (l) and the time-average ask (c); ``bid`` and
``ask`` (``/hmds/history`` barType) are the midpoint minus or plus half the spread. Quote-based bars
have volume 0 (conduit OpenAPI examples iserverHistoryMidpoint/BidAskSuccessExample: ``"v": 0``).

Volumes are integers in the contract's unit (shares, contracts); history.py scales them for the answer.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.lru import Lru
from ibkr_pipelines.simulator.market_hours import Market, Session
from ibkr_pipelines.simulator.world import World

TRADES, MIDPOINT, BID_ASK, BID, ASK = "trades", "midpoint", "bid_ask", "bid", "ask"
# One bar: (start epoch ms, open, high, low, close, volume in the contract's unit).
Bar = tuple[int, float, float, float, float, int]

# guess: daily volatility where the catalog has none (options, FX pairs), of a plausible size.
_VOL_FALLBACK = {"OPT": 0.04, "CASH": 0.004}
# guess: typical spreads, as a fraction of the price (never below one tick).
_SPREAD = {"STK": 2e-4, "OPT": 0.01, "FUT": 5e-5, "CASH": 2e-5, "BOND": 5e-4}
# guess: regular-session volume ranges per class (shares, contracts, bonds); pre/post trade a few percent.
_LIQUIDITY = {"STK": (3e5, 3e7), "OPT": (50.0, 5e3), "FUT": (2e4, 1e6), "BOND": (20.0, 2e3), "CASH": (0.0, 0.0)}


def decimals(c: Contract) -> int:
    """The contract's quoting precision, as the world's closes are rounded (prices.tick)."""
    if c.asset_class == "CASH":
        return 3 if c.currency == "JPY" else 5
    if c.asset_class == "BOND":
        return 3
    return 0 if c.currency == "JPY" else 2


@dataclass(frozen=True)
class Part:
    """One part of a day (pre, rth, post) as drawn: open, high, low, close and volume."""

    o: float
    h: float
    l: float  # noqa: E741
    c: float
    v: int


@dataclass(frozen=True)
class Day:
    """A trading date's drawn parts (absent parts are None) and the price after its post-market."""

    date: datetime.date
    pre: Part | None
    rth: Part
    post: Part | None
    last: float  # post-market close (the regular close when the market has no post-market)


def _seed(*parts: int) -> int:
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = ((h ^ (p & 0xFFFFFFFFFFFFFFFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h


_TAG = {"day": 1, "pre": 2, "rth": 3, "post": 4, "mid": 5, "liq": 6}


class BarMaker:
    """Draws days and minute bars of one world; bounded caches keep repeated and overlapping requests cheap."""

    def __init__(self, world: World) -> None:
        self.world = world
        # Bounds: a day is ~0.6 kB, a part's minutes up to ~0.3 MB (23 h of FX): at most ~35 + ~80 MB.
        self._days = Lru(60_000)
        self._minutes = Lru(256)

    # -- per contract constants --
    def vol(self, c: Contract) -> float:
        """Daily volatility used for the contract's paths."""
        return max(c.daily_vol, _VOL_FALLBACK.get(c.asset_class, 0.01))

    def tick(self, c: Contract) -> float:
        """The smallest price step."""
        return 10.0 ** -decimals(c)

    def spread(self, c: Contract, price: float) -> float:
        """A typical bid-ask spread around ``price``, on the tick grid."""
        t = self.tick(c)
        return max(t, round(price * _SPREAD.get(c.asset_class, 2e-4) / t) * t)

    def _liquidity(self, c: Contract) -> float:
        lo, hi = _LIQUIDITY.get(c.asset_class, (1e3, 1e5))
        if hi <= 0:
            return 0.0
        u = random.Random(_seed(self.world.seed, c.conid, _TAG["liq"])).random()
        return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))

    # -- days --
    def day(self, c: Contract, market: Market, d: datetime.date, prev: datetime.date | None) -> Day:
        """The drawn parts of trading date ``d`` (``prev``: the market's previous trading date, or None)."""
        return self._days.get((c.conid, d), lambda: self._draw_day(c, market, d, prev))  # type: ignore[return-value]

    def _post_close(self, c: Contract, market: Market, d: datetime.date) -> float:
        """The post-market close of ``d``: the first draw of the day's stream, so it needs nothing else."""
        close = self.world.price(c.conid, d)
        if not market.post:
            return close
        z = random.Random(_seed(self.world.seed, c.conid, d.toordinal(), _TAG["day"])).gauss(0.0, 1.0)
        return self._round(c, close * math.exp(z * self.vol(c) / 6))

    def _round(self, c: Contract, x: float) -> float:
        return max(self.tick(c), round(x, decimals(c)))

    def _part(self, c: Contract, o: float, cl: float, up: float, down: float, v: float) -> Part:
        dec, t = decimals(c), self.tick(c)
        scale = 10 ** dec
        h = math.ceil(round(max(o, cl) * (1 + up) * scale, 6)) / scale
        lo = max(t, math.floor(round(min(o, cl) * (1 - down) * scale, 6)) / scale)
        return Part(o, round(h, dec), round(min(lo, min(o, cl)), dec), cl, int(v))

    def _draw_day(self, c: Contract, market: Market, d: datetime.date, prev: datetime.date | None) -> Day:
        w = self.world
        rng = random.Random(_seed(w.seed, c.conid, d.toordinal(), _TAG["day"]))
        vol = self.vol(c)
        z_post, z_open = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
        draws = [abs(rng.gauss(0.0, 1.0)) for _ in range(6)] + [rng.random() for _ in range(3)]
        close = w.price(c.conid, d)
        before = self._post_close(c, market, prev) if prev is not None else close
        opening = self._round(c, before * math.exp(z_open * vol / 4))
        base = self._liquidity(c) * (0.6 + draws[6])
        rth = self._part(c, opening, close, draws[0] * vol / 2, draws[1] * vol / 2, base)
        last = self._round(c, close * math.exp(z_post * vol / 6)) if market.post else close
        pre = (self._part(c, before, opening, draws[2] * vol / 6, draws[3] * vol / 6, base * (0.02 + 0.06 * draws[7]))
               if market.pre else None)
        post = (self._part(c, close, last, draws[4] * vol / 6, draws[5] * vol / 6, base * (0.02 + 0.05 * draws[8]))
                if market.post else None)
        return Day(d, pre, rth, post, last)

    # -- minutes --
    def minutes(self, c: Contract, day: Day, session: Session, part: str, source: str) -> list[Bar]:
        """The 1-minute bars of one part of a day for one source."""
        key = (c.conid, day.date, part, source)
        return self._minutes.get(key, lambda: self._make_minutes(c, day, session, part, source))  # type: ignore[return-value]

    def _make_minutes(self, c: Contract, day: Day, session: Session, part: str, source: str) -> list[Bar]:
        path = self._path(c, day, session, part)
        if source == TRADES or (source == MIDPOINT and c.asset_class == "CASH"):
            return path  # FX has no trades: its drawn path is the midpoint
        if source == MIDPOINT:
            return self._midpoints(c, day, path)
        return self._quotes(c, day, self.minutes(c, day, session, part, MIDPOINT), source)

    def _path(self, c: Contract, day: Day, session: Session, part: str) -> list[Bar]:
        return self._minutes.get((c.conid, day.date, part, "path"),  # type: ignore[return-value]
                                 lambda: self._draw_path(c, day, session, part))

    def _draw_path(self, c: Contract, day: Day, session: Session, part: str) -> list[Bar]:
        """A random walk bridged from the part's open to its close, stretched to its high and low."""
        p: Part = getattr(day, part)
        times = session.minute_starts(part)
        n = len(times)
        rng = random.Random(_seed(self.world.seed, c.conid, day.date.toordinal(), _TAG[part]))
        rand = rng.random
        sig = self.vol(c) * p.o / math.sqrt(390.0) * (1.0 if part == "rth" else 0.4)
        step = sig * math.sqrt(6.0)  # a triangular step (two uniforms) of standard deviation ``sig``
        walk = [0.0] * (n + 1)
        x = 0.0
        for k in range(1, n + 1):
            x += (rand() + rand() - 1.0) * step
            walk[k] = x
        slope = (p.c - p.o - walk[n]) / n
        pts = [p.o + slope * k + walk[k] for k in range(n + 1)]
        pts[0], pts[n] = p.o, p.c
        floor = sig * 0.05 + 1e-9
        highs = [(a if a > b else b) + rand() * rand() * sig + floor for a, b in zip(pts, pts[1:])]
        lows = [(a if a < b else b) - rand() * rand() * sig - floor for a, b in zip(pts, pts[1:])]
        top, bottom = max(p.o, p.c), min(p.o, p.c)
        up = (p.h - top) / (max(highs) - top)
        down = (bottom - p.l) / (bottom - min(lows))
        dec = decimals(c)

        def fit(v: float) -> float:
            if v > top:
                return round(top + (v - top) * up, dec)
            if v < bottom:
                return round(bottom - (bottom - v) * down, dec)
            return round(v, dec)

        prices = [fit(v) for v in pts]
        weights = [(1.0 + 3.0 * ((2.0 * k / n) - 1.0) ** 2) * (0.5 + rand()) for k in range(n)]
        volumes = _split(p.v, weights)
        return [(times[k], prices[k], fit(highs[k]), fit(lows[k]), prices[k + 1], volumes[k]) for k in range(n)]

    def mid_shift(self, c: Contract, day: Day) -> float:
        """The day's midpoint offset from its trades: a whole number of ticks within half a spread."""
        t = self.tick(c)
        u = random.Random(_seed(self.world.seed, c.conid, day.date.toordinal(), _TAG["mid"])).random()
        return round((u - 0.5) * self.spread(c, day.rth.c) / t) * t

    def _midpoints(self, c: Contract, day: Day, trades: list[Bar]) -> list[Bar]:
        """Midpoint minutes: the trades moved by the day's offset (so their day bar is the trades' moved too)."""
        dec, tick, shift = decimals(c), self.tick(c), self.mid_shift(c, day)
        return [(t, max(tick, round(o + shift, dec)), max(tick, round(h + shift, dec)),
                 max(tick, round(lo + shift, dec)), max(tick, round(cl + shift, dec)), 0)
                for t, o, h, lo, cl, _ in trades]

    def _quotes(self, c: Contract, day: Day, mids: list[Bar], source: str) -> list[Bar]:
        """Bid_Ask (time-average bid, highest ask, lowest bid, time-average ask), bid or ask minutes."""
        dec, tick = decimals(c), self.tick(c)
        half = self.spread(c, day.rth.c) / 2
        out = []
        for t, o, h, lo, cl, _ in mids:
            if source == BID_ASK:
                avg = (o + cl) / 2
                out.append((t, max(tick, round(avg - half, dec)), round(h + half, dec),
                            max(tick, round(lo - half, dec)), round(avg + half, dec), 0))
            else:
                s = half if source == ASK else -half
                out.append((t, max(tick, round(o + s, dec)), max(tick, round(h + s, dec)),
                            max(tick, round(lo + s, dec)), max(tick, round(cl + s, dec)), 0))
        return out

    def part_bar(self, c: Contract, day: Day, session: Session, part: str, source: str) -> Bar:
        """One part's whole bar: from the drawn day for trades and midpoints, else its minutes' aggregate."""
        p: Part = getattr(day, part)
        t = session.spans(part)[0][0] * 1000
        if source == TRADES or (source == MIDPOINT and c.asset_class == "CASH"):
            return (t, p.o, p.h, p.l, p.c, p.v)
        if source == MIDPOINT:
            return self._midpoints(c, day, [(t, p.o, p.h, p.l, p.c, 0)])[0]
        # Time averages need the minutes: a few ms per day the first time (then history.py caches the day).
        return aggregate(self.minutes(c, day, session, part, source), source, decimals(c))


def _split(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to ``weights`` that sum exactly to ``total`` (largest remainders)."""
    if total <= 0:
        return [0] * len(weights)
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    short = total - sum(out)
    for k in sorted(range(len(raw)), key=lambda k: (out[k] - raw[k], k))[:short]:
        out[k] += 1
    return out


def aggregate(bars: list[Bar], source: str, dec: int) -> Bar:
    """One bar from consecutive bars: first open, highest high, lowest low, last close, summed volume.

    Bid_Ask bars hold time averages in open and close, so those average (every minute weighs the same).
    """
    h = max(b[2] for b in bars)
    lo = min(b[3] for b in bars)
    if source == BID_ASK:
        n = len(bars)
        return (bars[0][0], round(sum(b[1] for b in bars) / n, dec), h, lo, round(sum(b[4] for b in bars) / n, dec), 0)
    return (bars[0][0], bars[0][1], h, lo, bars[-1][4], sum(b[5] for b in bars))
