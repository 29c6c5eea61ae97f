"""Seeded daily closes and FX rates, drawn so that a longer world only appends to them.

Every path has its own ``random.Random`` stream, seeded from (seed, conid) for stocks and bonds,
(seed, root) for the futures of one root and (seed, currency) for FX; day ``i`` of a path uses only
draws ``0..i`` of its stream. So a world built through a later date has the same closes on every
earlier date, whatever the number of days or contracts (issue 6: one world across years).
"""

from __future__ import annotations

import datetime
import math
import random

from ibkr_pipelines.simulator.catalog import FX_START_USD, Contract


def tick(c: Contract, p: float) -> float:
    """A price rounded to the contract's quoting precision (FX 5 or 3 decimals, bonds 3, JPY whole)."""
    if c.asset_class == "CASH":
        return round(p, 3 if c.currency == "JPY" else 5)
    if c.asset_class == "BOND":
        return round(p, 3)
    if c.currency == "JPY":
        return round(p, 0)
    return round(p, 2)


def usd_paths(seed: int, n: int) -> dict[str, list[float]]:
    """USD value of one unit of each currency on each of ``n`` business days (USD stays 1.0)."""
    out: dict[str, list[float]] = {}
    for ccy, (start, vol) in FX_START_USD.items():
        rng = random.Random(f"{seed}-fx-{ccy}")
        path, x = [], start
        for _ in range(n):
            path.append(x)
            if vol:
                x *= math.exp(rng.gauss(0.0, vol))
        out[ccy] = path
    return out


def _walk(rng: random.Random, start: float, vol: float, n: int, bond: bool) -> list[float]:
    """A geometric random walk of ``n`` closes; bonds have no drift and stay within 80-115."""
    drift = 0.0 if bond else rng.uniform(-0.0002, 0.0006)
    path, x = [], start
    for _ in range(n):
        path.append(x)
        x *= math.exp(drift + rng.gauss(0.0, vol))
        if bond:
            x = min(max(x, 80.0), 115.0)
    return path


def close_paths(seed: int, contracts: dict[int, Contract], days: list[datetime.date],
                usd: dict[str, list[float]]) -> dict[int, list[float]]:
    """Close of every contract on every business day in ``days`` (bonds in percent of face)."""
    n = len(days)
    out: dict[int, list[float]] = {}
    roots: dict[str, list[float]] = {}
    fronts: dict[str, datetime.date] = {}
    for c in contracts.values():
        if c.asset_class in ("STK", "BOND"):
            path = _walk(random.Random(f"{seed}-price-{c.conid}"), c.start_price, c.daily_vol, n,
                         c.asset_class == "BOND")
            out[c.conid] = [tick(c, p) for p in path]
        elif c.asset_class == "FUT" and c.expiry is not None:
            if c.symbol not in roots:  # every expiry of a root follows one path
                roots[c.symbol] = _walk(random.Random(f"{seed}-future-{c.symbol}"), c.start_price, c.daily_vol,
                                        n, False)
            fronts[c.symbol] = min(fronts.get(c.symbol, c.expiry), c.expiry)
    for c in contracts.values():
        if c.asset_class == "FUT":
            basis = 1.0 if c.expiry == fronts[c.symbol] else 1.004  # the back month trades at a premium
            out[c.conid] = [tick(c, p * basis) for p in roots[c.symbol]]
        elif c.asset_class == "CASH":
            b, q = usd[c.symbol], usd[c.currency]
            out[c.conid] = [tick(c, b[i] / q[i]) for i in range(n)]
    for c in contracts.values():
        if c.asset_class == "OPT" and c.expiry is not None:
            out[c.conid] = _option_path(c, out[c.und_conid], days)
    return out


def _option_path(c: Contract, und: list[float], days: list[datetime.date]) -> list[float]:
    """A crude option value: intrinsic value plus a time value that decays with time to expiry."""
    assert c.expiry is not None
    out = []
    for s, day in zip(und, days):
        t = max((c.expiry - day).days, 1) / 365.0
        spread = s * 0.3 * math.sqrt(t)
        intrinsic = max(s - c.strike, 0.0) if c.right == "C" else max(c.strike - s, 0.0)
        tv = 0.4 * spread * math.exp(-abs(s - c.strike) / spread)
        out.append(max(0.01, round(intrinsic + tv, 2)))
    return out
