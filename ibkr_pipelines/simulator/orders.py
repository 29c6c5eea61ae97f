"""The executions of a trades window and the orders of a brokerage session, from the world and the clock.

Reference §2.6: ``/iserver/account/trades`` serves "today plus 6 previous days" of executions and
``/iserver/account/orders`` the orders of the current brokerage session "plus open ones". The world
holds executions only (one order per fill: world.Serial); the orders besides the filled ones are made
here, deterministically from the seed, the account and the business-day number, never the wall clock:

- one Cancelled limit order per account and business day (guess: IBKR gives no count; one is enough
  for a client to meet the status),
- ``open_per_account`` good-till-cancelled limit orders per account, each placed on a business day
  and left open (Submitted or PreSubmitted) for a cycle of 8, 11, 14... business days, so the same
  order is seen open on several days (guess: limits far from the market, so they never fill).
"""

from __future__ import annotations

import bisect
import datetime
import random
from dataclasses import dataclass

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import UTC, close_datetime, new_york_date
from ibkr_pipelines.simulator.prices import tick
from ibkr_pipelines.simulator.roster import Account
from ibkr_pipelines.simulator.world import Execution, World

# Reference §2.6: "Returns at most 1000 orders".
ORDERS_MAX = 1000
# Reference §2.6: "days can be at most 7 (today plus 6 previous days)".
TRADES_MAX_DAYS = 7
# Ids of the orders made here (the world's fills use 1.8e9.. and 2.0e9..): 3e9 + account number * 1e7
# + business-day number * 100 + slot (0 the cancelled order, 1..OPEN_MAX the open ones): never colliding.
_ORDER_BASE = 3_000_000_000
OPEN_MAX = 99


@dataclass(frozen=True)
class Order:
    """One order as /iserver/account/orders lists it (quantities positive, side BUY or SELL)."""

    order_id: int
    account: str
    conid: int
    side: str  # "BUY" | "SELL"
    total: float
    filled: float
    avg_price: float | None  # None when nothing filled
    order_type: str  # "Market" | "Limit"
    limit_price: float | None
    tif: str  # "CLOSE" | "DAY" | "GTC"
    status: str  # reference §2.6 names: Filled, Cancelled, Submitted, PreSubmitted, ...
    last_time: datetime.datetime  # UTC: the last fill, or the last change of an unfilled order


def trades_window(world: World, account_ids: list[str], today: datetime.date, days: int) -> list[Execution]:
    """Executions of these accounts whose New York trade date is in the last ``days`` days and which are not after now.

    Guess: "today plus 6 previous days" (reference §2.6) counts New York calendar days, IBKR's day
    closing in New York. "Now" is the sim's close of ``today``; the world holds later fills too.
    """
    first = today - datetime.timedelta(days=days - 1)
    now = close_datetime(today)
    out = []
    for aid in account_ids:
        for e in reversed(world.executions_for(aid)):
            if e.trade_date < first:  # the UTC date is never before the New York date
                break
            if e.trade_time <= now and first <= new_york_date(e.trade_time) <= today:
                out.append(e)
    return out


def session_orders(world: World, account_ids: list[str], today: datetime.date, open_per_account: int) -> list[Order]:
    """Today's orders of these accounts: the filled ones behind today's executions, a cancelled one, the open GTC ones."""
    fills: dict[tuple[str, int], list[Execution]] = {}
    for e in trades_window(world, account_ids, today, 1):
        fills.setdefault((e.account, e.order_id), []).append(e)
    out = [_filled(world, group) for group in fills.values()]
    i = bisect.bisect_right(world.days, today) - 1  # the business-day number of today (or the Friday before)
    if i < 1:
        return out
    wanted = set(account_ids)
    for n, acct in enumerate(world.accounts):
        if acct.id not in wanted:
            continue
        if world.days[i] == today:
            out += _made(world, acct, n, i, 0, "Cancelled")
        for slot in range(1, open_per_account + 1):
            cycle = 5 + 3 * slot
            placed = i - (i + 5 * slot + n) % cycle  # cycles of each slot start on staggered days
            if placed >= 1:
                out += _made(world, acct, n, placed, slot, None)
    return out


def _filled(world: World, group: list[Execution]) -> Order:
    """The order behind one day's executions of one order id (the world makes one fill per order)."""
    first = group[0]
    qty = sum(e.quantity for e in group)
    avg = sum(e.quantity * e.price for e in group) / qty
    # Guess: a deterministic quarter are marketable limit orders (limit at the fill), the rest market
    # orders; timeInForce CLOSE for market orders as the recording Orders/GET-live-orders.json shows.
    limit = first.order_id % 4 == 0
    return Order(first.order_id, first.account, first.conid, "BUY" if first.side == "B" else "SELL", qty, qty,
                 round(avg, 8), "Limit" if limit else "Market", first.price if limit else None,
                 "DAY" if limit else "CLOSE", "Filled", max(e.trade_time for e in group))


def _made(world: World, acct: Account, n: int, placed: int, slot: int, status: str | None) -> list[Order]:
    """The order placed on business day ``placed`` in one slot of the ``n``-th account: cancelled the same
    day (``status`` "Cancelled") or open (None); nothing when the account held nothing the day before."""
    day = world.days[placed]
    rng = random.Random(f"{world.seed}-orders-{acct.live_id}-{placed}-{slot}")
    held = sorted((k, q) for k, q in world.positions_as_of(acct.id, world.days[placed - 1]).items()
                  if world.contracts[k].asset_class != "CASH")
    if not held:
        return []
    conid, pos = rng.choice(held)
    c = world.contracts[conid]
    side = "SELL" if pos > 0 and rng.random() < 0.5 else "BUY"  # a short is only ever bought back
    away = rng.uniform(0.05, 0.10)
    px = world.price(conid, world.days[placed - 1])
    limit = tick(c, px * (1 + away if side == "SELL" else 1 - away))
    qty = _order_size(c, abs(pos) * rng.uniform(0.1, 0.3))
    placed_at = datetime.datetime(day.year, day.month, day.day, tzinfo=UTC) + datetime.timedelta(
        seconds=int(rng.uniform(13.5, 19.5) * 3600))
    if status is None:
        status = "PreSubmitted" if rng.random() < 0.3 else "Submitted"
        tif = "GTC"
        last = placed_at
    else:
        tif = "DAY"
        last = placed_at + datetime.timedelta(seconds=rng.randint(60, 3000))  # cancelled before the close
    order_id = _ORDER_BASE + n * 10_000_000 + placed * 100 + slot
    return [Order(order_id, acct.id, conid, side, qty, 0.0, None, "Limit", limit, tif, status, last)]


def _order_size(c: Contract, q: float) -> float:
    """A size the contract trades in: whole units, bonds in 10,000 of face."""
    if c.asset_class == "BOND":
        return float(max(10_000, round(q / 10_000) * 10_000))
    return float(max(1, int(q)))
