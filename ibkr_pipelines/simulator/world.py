"""The simulated world, deterministic from a seed: accounts, contracts, prices, executions, cash.

Modelling simplification: one gateway login (one username) sees a Financial Advisor group (the
master ``F`` account and its client accounts) plus one linked individual account (roster.py: ids,
paper prefixes, and the thin clients ``extra_subaccounts`` adds, whose activity is thin.py's). Positions
are the sum of executions, cash is the sum of cash events, and every endpoint answers from these same
objects. One more account, closed, is in no listing: the individual's predecessor (roster.PREDECESSOR),
funded and closed on WORLD_START, its money moved that day to the individual account by an internal
transfer (``transfers``, ``closed_accounts``); only Flex reports show it (flex_rows.py). From
funding_program.FUNDING_START the login also deposits, withdraws and moves cash between its accounts
(``funding``): a processed instruction is cash on its processed date (funding_program.py), a rejected
one never is. Simplification: monthly interest is on the activity walk's balances, without that money.

The world does not depend on the clock (issue 6): its history starts on WORLD_START and runs through
the date the caller asks for, and it is prefix-stable: two worlds of one seed built through D1 < D2
agree on everything dated <= D1 (contracts, prices, FX, executions and their ids, cash events), as
one account does whenever it is looked at. Price paths have one random stream each (``prices.py``)
and the activity walk draws day by day without ever looking at how many days there are.
"""

from __future__ import annotations

import bisect
import datetime
import math
import random
from dataclasses import dataclass
from typing import Sequence

from ibkr_pipelines.simulator.catalog import FIRST_EXPIRY, Contract, build_catalog
from ibkr_pipelines.simulator.clock import UTC, business_days, new_york_date
from ibkr_pipelines.simulator.funding_program import INTERNAL, Instruction, program
from ibkr_pipelines.simulator.prices import close_paths, tick, usd_paths
from ibkr_pipelines.simulator.roster import BIG_CLIENT, INDIVIDUAL, Account, Roster, make_accounts, predecessor
from ibkr_pipelines.simulator.thin import ThinClients

# The first day of the world: every account is funded (its initial deposit) on this day.
WORLD_START = datetime.date(2024, 1, 2)
# The last date a world can be built through: the day before its first contract expires (catalog.py).
WORLD_LAST = FIRST_EXPIRY - datetime.timedelta(days=1)
# Business-day numbers (0 = WORLD_START) of the designated full closes: fixed numbers, so the walk
# never depends on how many days the world has.
_CLOSE_DAY_NUMBERS = (195, 293)

_MIN_COMMISSION = {"USD": 1.0, "EUR": 1.25, "GBP": 1.5, "JPY": 80.0, "CHF": 1.5, "HKD": 18.0}
_INTEREST = {"USD": 0.03, "EUR": 0.02, "GBP": 0.035, "JPY": 0.0, "CHF": 0.0, "HKD": 0.02}
# Trading session (UTC hours) per contract currency, for execution timestamps.
_SESSION_UTC = {"USD": (14.5, 20.9), "EUR": (8.0, 16.4), "GBP": (8.0, 16.4), "CHF": (8.0, 16.4),
                "JPY": (0.0, 5.9), "HKD": (1.5, 7.9)}


@dataclass(frozen=True)
class Execution:
    """One fill: positive quantity, side B/S, price per unit, commission in the contract currency."""

    exec_id: str
    account: str
    conid: int
    side: str  # "B" | "S"
    quantity: float
    price: float
    commission: float
    currency: str
    trade_time: datetime.datetime  # UTC
    exchange: str
    order_id: int

    @property
    def trade_date(self) -> datetime.date:
        """The trade date (UTC calendar date of the fill)."""
        return self.trade_time.date()

    @property
    def signed_quantity(self) -> float:
        """Quantity with the sign of the side (+buy, -sell)."""
        return self.quantity if self.side == "B" else -self.quantity


@dataclass(frozen=True)
class CashEvent:
    """A cash movement in one currency of one account (amount rounded to cents)."""

    account: str
    date: datetime.date
    currency: str
    amount: float
    kind: str  # deposit, transfer, trade, commission, dividend, interest, advisor_fee, fx, futures_pnl
    ref: str = ""
    conid: int = 0


@dataclass(frozen=True)
class Transfer:
    """Cash moved between two of the user's own accounts (an internal transfer), seen from both sides."""

    date: datetime.date
    from_account: str
    to_account: str
    currency: str
    amount: float  # positive: what left ``from_account`` and reached ``to_account``


@dataclass(frozen=True)
class ClosedAccount:
    """An account of the user that is closed: in no listing, only in Flex reports of the dates it was open."""

    account: Account
    opened: datetime.date
    closed: datetime.date
    cash_events: tuple[CashEvent, ...]


def _predecessor_history(roster: Roster, individual: Account) -> tuple[ClosedAccount, Transfer]:
    """The individual's predecessor: funded with the individual's first deposit and closed the same day,
    the money moved by an internal transfer (the individual's first cash event, kind "transfer")."""
    old = predecessor(roster)
    moved = CashEvent(old.id, WORLD_START, old.currency, -individual.deposit, "transfer",
                      f"internal transfer to {individual.id}")
    funded = CashEvent(old.id, WORLD_START, old.currency, individual.deposit, "deposit", "initial deposit")
    closed = ClosedAccount(old, WORLD_START, WORLD_START, (funded, moved))
    return closed, Transfer(WORLD_START, old.id, individual.id, old.currency, individual.deposit)


@dataclass
class Lot:
    """Running position of one contract: signed quantity, signed cost basis, realized P&L of a day."""

    quantity: float = 0.0
    cost: float = 0.0  # quantity * avgCost (money, multiplier included)
    realized_day: float = 0.0
    realized_date: datetime.date | None = None


def apply_fill(lot: Lot, contract: Contract, dq: float, price: float, commission: float) -> float:
    """Apply a signed fill to a lot with average-cost accounting; returns realized P&L (money).

    Commissions enter the cost basis (as IBKR's avgCost) except for futures, whose commission is
    only a cash event so that closing P&L settled to cash does not count it twice.
    """
    vm = contract.value_multiplier
    fee = 0.0 if contract.asset_class == "FUT" else commission
    realized = 0.0
    if lot.quantity == 0 or (lot.quantity > 0) == (dq > 0):
        lot.quantity += dq
        lot.cost += dq * price * vm + fee
        return 0.0
    close_q = math.copysign(min(abs(dq), abs(lot.quantity)), dq)
    frac = abs(close_q) / abs(lot.quantity)
    close_fee = fee * abs(close_q) / abs(dq)
    cost_closed = lot.cost * frac
    realized = -close_q * price * vm - cost_closed - close_fee
    lot.quantity += close_q
    lot.cost -= cost_closed
    if abs(lot.quantity) < 1e-9:
        lot.quantity, lot.cost = 0.0, 0.0
    rest = dq - close_q
    if abs(rest) > 1e-9:
        lot.quantity += rest
        lot.cost += rest * price * vm + (fee - close_fee)
    return realized


def _r2(x: float) -> float:
    return round(x + 0.0, 2)


class Serial:
    """Execution and order numbers of one stream: ``exec_base + n`` and ``order_base + n * order_step``."""

    def __init__(self, exec_base: int, order_base: int, order_step: int = 1) -> None:
        self.exec_base, self.order_base, self.order_step = exec_base, order_base, order_step
        self.n = 0

    def next(self) -> tuple[int, int]:
        """The next (execution number, order id)."""
        self.n += 1
        return self.exec_base + self.n, self.order_base + self.n * self.order_step


def check_world_date(d: datetime.date) -> None:
    """Refuse a date outside the world (ValueError naming its first or last date)."""
    if d < WORLD_START:
        raise ValueError(f"{d} is before the simulated world, whose first date is {WORLD_START}")
    if d > WORLD_LAST:
        raise ValueError(f"{d} is after the simulated world, whose last date is {WORLD_LAST}")


class World:
    """All simulated data from WORLD_START through a date, built once from a seed; read-only afterwards."""

    def __init__(self, seed: int, through: datetime.date, roster: Roster | None = None,
                 funding: Sequence[Instruction] = ()) -> None:
        check_world_date(through)
        self.seed = seed
        self.start = WORLD_START
        self.through = through
        self.roster = roster or Roster()
        self.days: list[datetime.date] = business_days(WORLD_START, through)
        self.contracts: dict[int, Contract] = build_catalog(random.Random(f"{seed}-catalog"))
        self.accounts: list[Account] = make_accounts(self.roster)
        self.account_by_id: dict[str, Account] = {a.id: a for a in self.accounts}
        self.master: Account = next(a for a in self.accounts if a.kind == "master")
        self._usd: dict[str, list[float]] = usd_paths(seed, len(self.days))
        self._prices: dict[int, list[float]] = close_paths(seed, self.contracts, self.days, self._usd)
        gen = _ActivityGenerator(self, random.Random(f"{seed}-activity"))
        gen.run()
        self.executions: list[Execution] = gen.executions
        individual = next(a for a in self.accounts if a.live_id == INDIVIDUAL)
        closed, transfer = _predecessor_history(self.roster, individual)
        self.closed_accounts: list[ClosedAccount] = [closed]
        self.transfers: list[Transfer] = [transfer]
        # Funding instructions (funding_program.py): the seed's programme plus any a test added, requested
        # by ``through``; each processed one is cash on its processed date, after that date's other events.
        self.funding: list[Instruction] = sorted(
            program(seed, self.accounts, through) + [i for i in funding if new_york_date(i.requested) <= through],
            key=lambda i: (i.requested, i.instruction_id))
        self.cash_events: list[CashEvent] = self._with_funding(gen.cash_events)
        self._execs_by_account: dict[str, list[Execution]] = {a.id: [] for a in self.accounts}
        for e in self.executions:
            self._execs_by_account[e.account].append(e)
        self._cash_by_account: dict[str, list[CashEvent]] = {a.id: [] for a in self.accounts}
        for ev in self.cash_events:
            self._cash_by_account[ev.account].append(ev)
        self._book_cache: dict[tuple[str, datetime.date], dict[int, Lot]] = {}
        self._fx_cache: dict[tuple[str, str, datetime.date], float] = {}
        self._cash_cache: dict[tuple[str, datetime.date], dict[str, float]] = {}
        self._book_timelines: dict[str, dict[int, tuple[list[datetime.date], list[_LotState]]]] = {}
        self._cash_timelines: dict[str, tuple[list[datetime.date], list[dict[str, float]]]] = {}
        self.by_symbol: dict[str, list[Contract]] = {}
        for c in self.contracts.values():
            if c.asset_class == "STK":
                self.by_symbol.setdefault(c.symbol, []).append(c)

    def _with_funding(self, events: list[CashEvent]) -> list[CashEvent]:
        """``events`` with the cash of the processed funding instructions settled by ``through`` (stable by date)."""
        legs: list[CashEvent] = []
        for i in self.funding:
            d = i.settle_date
            if d is None or d > self.through:
                continue
            legs += [CashEvent(acct, d, i.currency, _r2(amount), kind, text)
                     for acct, amount, kind, text in i.cash_legs()]
            if i.type == INTERNAL:
                self.transfers.append(Transfer(d, i.account, str(i.target), i.currency, i.amount))
        return sorted(events + legs, key=lambda ev: ev.date) if legs else events

    # ----- prices -------------------------------------------------------------------------------

    def _index(self, d: datetime.date) -> int:
        # Dates before WORLD_START read the first close, dates after ``through`` the last one; the
        # simulator never asks for the latter (it builds the world past its clock).
        i = bisect.bisect_right(self.days, d) - 1
        return min(max(i, 0), len(self.days) - 1)

    def price(self, conid: int, d: datetime.date) -> float:
        """Close price of a contract on the last business day <= d (bonds in percent of face)."""
        return self._prices[conid][self._index(d)]

    def fx_rate(self, ccy: str, base: str, d: datetime.date) -> float:
        """Units of ``base`` for one unit of ``ccy`` at the close of the last business day <= d."""
        if ccy == base:
            return 1.0
        key = (ccy, base, d)
        rate = self._fx_cache.get(key)
        if rate is None:
            i = self._index(d)
            rate = self._fx_cache[key] = round(self._usd[ccy][i] / self._usd[base][i], 8)
        return rate

    # ----- queries ------------------------------------------------------------------------------

    def account(self, account_id: str) -> Account | None:
        """The account with this id, or None."""
        return self.account_by_id.get(account_id)

    def executions_for(self, account_id: str) -> list[Execution]:
        """Executions of one account, oldest first."""
        return self._execs_by_account.get(account_id, [])

    def cash_events_for(self, account_id: str) -> list[CashEvent]:
        """Cash events of one account, in date order."""
        return self._cash_by_account.get(account_id, [])

    def realized_fills(self, account_id: str, conid: int) -> list[tuple[Execution, float, str]]:
        """Each execution of one contract in one account, oldest first, with the P&L it realized and
        the side ("L" long, "S" short) of the position it traded against; the same apply_fill replay
        as book_as_of, so a day's sum is that day's realized P&L even when the fill closes the lot."""
        c = self.contracts[conid]
        lot = Lot()
        out = []
        for e in self._execs_by_account.get(account_id, []):
            if e.conid != conid:
                continue
            side = "S" if lot.quantity < 0 or (lot.quantity == 0 and e.side == "S") else "L"
            realized = 0.0 if c.asset_class == "CASH" else apply_fill(lot, c, e.signed_quantity, e.price,
                                                                        e.commission)
            out.append((e, realized, side))
        return out

    def book_as_of(self, account_id: str, d: datetime.date) -> dict[int, Lot]:
        """Open lots (quantity, cost basis, that day's realized P&L) per conid at the close of d."""
        key = (account_id, d)
        cached = self._book_cache.get(key)
        if cached is not None:
            return cached
        out = self.book_on(account_id, d)
        self._book_cache[key] = out
        return out

    def book_on(self, account_id: str, d: datetime.date) -> dict[int, Lot]:
        """The lots of book_as_of without keeping them: a walk over years of dates (Flex) holds one at a time."""
        out: dict[int, Lot] = {}
        for conid, (dates, states) in self._book_timeline(account_id).items():
            i = bisect.bisect_right(dates, d) - 1
            if i < 0 or states[i][0] == 0:
                continue
            quantity, cost, realized = states[i]
            lot = out[conid] = Lot(quantity, cost)
            if dates[i] == d:
                lot.realized_day, lot.realized_date = realized, d
        return out

    def _book_timeline(self, account_id: str) -> dict[int, tuple[list[datetime.date], list[_LotState]]]:
        """Per conid, in first-traded order, its lot after each date it traded: one replay, oldest first.

        Each conid keeps only the dates it traded (quantity, cost, that date's realized P&L), so the
        replay costs one step per execution and book_as_of answers any date with one bisect per conid
        (a snapshot of every open lot per trading date cost O(dates x lots): 0.25 s for a busy account).
        """
        timeline = self._book_timelines.get(account_id)
        if timeline is not None:
            return timeline
        timeline = {}
        lots: dict[int, Lot] = {}
        for e in self._execs_by_account.get(account_id, []):
            c = self.contracts[e.conid]
            if c.asset_class == "CASH":
                continue
            lot = lots.setdefault(e.conid, Lot())
            realized = apply_fill(lot, c, e.signed_quantity, e.price, e.commission)
            dates, states = timeline.setdefault(e.conid, ([], []))
            if dates and dates[-1] == e.trade_date:
                realized += states[-1][2]
                dates.pop()
                states.pop()
            dates.append(e.trade_date)
            states.append((lot.quantity, lot.cost, realized))
        self._book_timelines[account_id] = timeline
        return timeline

    def positions_as_of(self, account_id: str, d: datetime.date) -> dict[int, float]:
        """Signed quantity per conid at the close of d (sum of executions; zero positions absent)."""
        return {k: v.quantity for k, v in self.book_as_of(account_id, d).items()}

    def cash_as_of(self, account_id: str, d: datetime.date) -> dict[str, float]:
        """Cash per currency at the close of d: the sum of cash events dated <= d, in cents."""
        key = (account_id, d)
        cached = self._cash_cache.get(key)
        if cached is not None:
            return cached
        dates, sums = self._cash_timeline(account_id)
        i = bisect.bisect_right(dates, d) - 1
        out = {k: _r2(v) for k, v in sums[i].items()} if i >= 0 else {}
        self._cash_cache[key] = out
        return out

    def _cash_timeline(self, account_id: str) -> tuple[list[datetime.date], list[dict[str, float]]]:
        """Running cash sums per currency after each date with cash events (summed in event order)."""
        timeline = self._cash_timelines.get(account_id)
        if timeline is not None:
            return timeline
        dates: list[datetime.date] = []
        sums: list[dict[str, float]] = []
        running: dict[str, float] = {}
        for ev in self._cash_by_account.get(account_id, []):
            if not dates or dates[-1] != ev.date:
                if dates:
                    sums.append(dict(running))
                dates.append(ev.date)
            running[ev.currency] = running.get(ev.currency, 0.0) + ev.amount
        if dates:
            sums.append(dict(running))
        timeline = (dates, sums)
        self._cash_timelines[account_id] = timeline
        return timeline


# One conid's lot after a date it traded: quantity, cost, and the P&L that date realized.
_LotState = tuple[float, float, float]

# Currencies each base currency can fund through a direct FX pair of the catalog.
_FUNDABLE = {"USD": {"USD", "EUR", "GBP", "JPY", "CHF", "HKD"}, "EUR": {"EUR", "USD", "GBP", "CHF"},
             "GBP": {"GBP", "USD", "EUR"}}


class _ActivityGenerator:
    """Walks the business days once, producing executions and cash events in date order.

    One random stream, drawn day by day: what happens on day i depends only on days 0..i, never on
    how many days follow, so a longer world repeats a shorter one's activity exactly (exec ids too).
    """

    def __init__(self, world: World, rng: random.Random) -> None:
        self.w = world
        self.rng = rng
        self.executions: list[Execution] = []
        self.cash_events: list[CashEvent] = []
        self.lots: dict[str, dict[int, Lot]] = {a.id: {} for a in world.accounts}
        self.cash: dict[str, dict[str, float]] = {a.id: {} for a in world.accounts}
        self.serial = Serial(0x65000000, 1_800_000_000, 13)
        self.pairs = {(c.symbol, c.currency): c for c in world.contracts.values() if c.asset_class == "CASH"}
        self.divs: dict[int, tuple[float, int]] = {}
        for c in world.contracts.values():
            if c.asset_class == "STK" and rng.random() < 0.7:
                self.divs[c.conid] = (rng.uniform(0.005, 0.035), rng.randrange(3))

    # -- helpers --
    def _cash(self, acct: str, d: datetime.date, ccy: str, amount: float, kind: str, ref: str = "",
              conid: int = 0) -> None:
        amount = _r2(amount)
        if amount == 0:
            return
        self.cash_events.append(CashEvent(acct, d, ccy, amount, kind, ref, conid))
        book = self.cash[acct]
        book[ccy] = book.get(ccy, 0.0) + amount

    def fill(self, acct: str, c: Contract, d: datetime.date, dq: float, i: int,
              rng: random.Random | None = None, serial: "Serial | None" = None) -> None:
        """One execution and its cash legs; ``rng`` and ``serial`` default to the main stream's."""
        if dq == 0:
            return
        rng = rng or self.rng
        exec_no, order_id = (serial or self.serial).next()
        close = self.w._prices[c.conid][i]
        px = tick(c, close * (1 + rng.uniform(-0.002, 0.002)))
        if px <= 0:
            px = close
        q = abs(dq)
        notional = q * px * c.value_multiplier
        minc = _MIN_COMMISSION.get(c.currency, 1.0)
        if c.asset_class == "STK":
            comm = max(minc, min(0.0005 * notional, 0.005 * q + minc))
        elif c.asset_class == "OPT":
            comm = max(minc, 0.65 * q)
        elif c.asset_class == "FUT":
            comm = max(minc, 0.85 * q)
        elif c.asset_class == "BOND":
            comm = max(5.0, 0.0002 * q)
        else:
            comm = 2.0 / self.w._usd[c.currency][i]
        comm = _r2(comm)
        lo, hi = _SESSION_UTC.get(c.currency, (13.0, 20.0)) if c.asset_class != "CASH" else (7.0, 20.0)
        secs = int(rng.uniform(lo, hi) * 3600)
        t = datetime.datetime(d.year, d.month, d.day, tzinfo=UTC) + datetime.timedelta(seconds=secs)
        exec_id = f"{rng.getrandbits(32):08x}.{exec_no:08x}.01.01"
        e = Execution(exec_id, acct, c.conid, "B" if dq > 0 else "S", float(q), px, comm, c.currency, t,
                      c.listing_exchange, order_id)
        self.executions.append(e)
        if c.asset_class == "CASH":
            self._cash(acct, d, c.symbol, dq, "fx", exec_id, c.conid)
            self._cash(acct, d, c.currency, -dq * px, "fx", exec_id, c.conid)
            self._cash(acct, d, c.currency, -comm, "commission", exec_id, c.conid)
            return
        lot = self.lots[acct].setdefault(c.conid, Lot())
        realized = apply_fill(lot, c, dq, px, comm)
        if lot.quantity == 0:
            del self.lots[acct][c.conid]
        if c.asset_class == "FUT":
            if realized:
                self._cash(acct, d, c.currency, realized, "futures_pnl", exec_id, c.conid)
        else:
            self._cash(acct, d, c.currency, -dq * px * c.value_multiplier, "trade", exec_id, c.conid)
        self._cash(acct, d, c.currency, -comm, "commission", exec_id, c.conid)

    def _lot_size(self, acct: Account, c: Contract, i: int) -> float:
        rng = self.rng
        if c.asset_class == "OPT":
            return float(rng.randint(1, 10))
        if c.asset_class == "FUT":
            return float(rng.randint(1, 3))
        if c.asset_class == "BOND":
            return float(10_000 * rng.randint(1, 5))
        base_value = acct.deposit * rng.uniform(0.003, 0.009)
        in_ccy = base_value * self.w._usd[acct.currency][i] / self.w._usd[c.currency][i]
        px = self.w._prices[c.conid][i]
        return float(max(1, int(in_ccy / px)))

    def _universe(self, acct: Account) -> list[Contract]:
        rng = self.rng
        ok = _FUNDABLE[acct.currency]
        pool = [c for c in self.w.contracts.values() if c.asset_class != "CASH" and c.currency in ok]
        pool.sort(key=lambda c: c.conid)
        if acct.live_id == BIG_CLIENT:
            stk = [c for c in pool if c.asset_class == "STK"]
            opt = [c for c in pool if c.asset_class == "OPT"]
            fut = [c for c in pool if c.asset_class == "FUT"]
            bond = [c for c in pool if c.asset_class == "BOND"]
            chosen = stk + rng.sample(opt, 16) + rng.sample(fut, 4) + rng.sample(bond, 4)
        elif acct.kind == "master":
            return []
        else:
            n = {"U7000012": 30, "U7000013": 40, "U7000014": 22, "U7000099": 28}.get(acct.live_id, 25)
            chosen = rng.sample(pool, min(n, len(pool)))
        rng.shuffle(chosen)
        return chosen

    # -- the walk --
    def run(self) -> None:
        """Walk every business day: deposits, opening buys, trades, dividends, interest, fees, FX funding."""
        w, rng = self.w, self.rng
        days = w.days
        # The thin clients of ``extra_subaccounts`` walk on their own streams (thin.py), so adding them
        # changes nothing of the other accounts but the master's advisor-fee income.
        main = [a for a in w.accounts if not a.thin]
        thin = ThinClients(self, [a for a in w.accounts if a.thin])
        plans = {a.id: self._universe(a) for a in main}
        # Designated behaviours so every feature is exercised: shorts and fully closed contracts.
        shorts: dict[str, set[int]] = {}
        closers: dict[str, dict[int, int]] = {}
        for a in main:
            uni = plans[a.id]
            if not uni:
                continue
            stk = [c for c in uni if c.asset_class == "STK"]
            s = {stk[0].conid} if stk else set()
            s |= {c.conid for c in uni if c.asset_class in ("OPT", "FUT") and rng.random() < 0.4}
            shorts[a.id] = s
            closers[a.id] = dict(zip((stk[-1].conid, stk[-2].conid), _CLOSE_DAY_NUMBERS)) if len(stk) > 3 else {}
        closed: dict[str, set[int]] = {a.id: set() for a in main}
        for i, d in enumerate(days):
            if i == 0:
                for a in w.accounts:
                    if a.live_id == INDIVIDUAL:  # funded from its predecessor (World.transfers), same money
                        self._cash(a.id, d, a.currency, a.deposit, "transfer",
                                   f"internal transfer from {predecessor(w.roster).id}")
                    else:
                        self._cash(a.id, d, a.currency, a.deposit, "deposit", "initial deposit")
                continue
            first_of_month = days[i - 1].month != d.month
            dividend_day = d.day >= 15 and days[i - 1].day < 15
            for a in main:
                uni = plans[a.id]
                lots = self.lots[a.id]
                # Opening phase: work through the universe over the first ~40 business days.
                if i <= 40 and uni:
                    per_day = math.ceil(len(uni) / 40)
                    for c in uni[(i - 1) * per_day: i * per_day]:
                        q = self._lot_size(a, c, i)
                        self.fill(a.id, c, d, -q if c.conid in shorts[a.id] else q, i)
                elif uni:
                    for conid, day_no in closers[a.id].items():
                        if i == day_no and conid in lots:
                            self.fill(a.id, w.contracts[conid], d, -lots[conid].quantity, i)
                            closed[a.id].add(conid)
                    n_trades = rng.choice((0, 1, 1, 2, 3)) if a.live_id != BIG_CLIENT else rng.choice((1, 2, 3, 4))
                    held = sorted(c for c in lots if c not in closed[a.id])
                    for _ in range(n_trades):
                        if not held:
                            break
                        conid = rng.choice(held)
                        c = w.contracts[conid]
                        lot = lots.get(conid)
                        if lot is None:
                            continue
                        sign = 1.0 if lot.quantity > 0 else -1.0
                        if rng.random() < 0.55:
                            dq = sign * self._lot_size(a, c, i) * rng.uniform(0.2, 0.6)
                        else:
                            dq = -sign * abs(lot.quantity) * rng.uniform(0.1, 0.5)
                        if c.asset_class == "BOND":
                            dq = math.copysign(max(10_000.0, round(abs(dq) / 10_000) * 10_000), dq)
                        else:
                            dq = math.copysign(max(1.0, float(round(abs(dq)))), dq)
                        if abs(dq) >= abs(lot.quantity) and (dq > 0) != (lot.quantity > 0):
                            continue  # partial reduces only; full closes are the designated ones
                        self.fill(a.id, c, d, dq, i)
                if dividend_day:
                    self.dividends(a, d, i)
                if first_of_month:
                    self.month_start(a, d, i)
                self._fund(a, d, i)
            thin.day(d, i, first_of_month, dividend_day)

    def dividends(self, a: Account, d: datetime.date, i: int) -> None:
        """Cash dividends of the stocks held, quarterly per stock, on the first business day on/after the 15th."""
        w = self.w
        for conid, lot in sorted(self.lots[a.id].items()):
            div = self.divs.get(conid)
            if div and (d.month - div[1]) % 3 == 0:
                c = w.contracts[conid]
                dps = round(w._prices[conid][i] * div[0] / 4, 4)
                self._cash(a.id, d, c.currency, lot.quantity * dps, "dividend",
                           f"{c.symbol} cash dividend {dps} per share", conid)

    def month_start(self, a: Account, d: datetime.date, i: int) -> None:
        """Monthly interest on every cash balance and, for a client account, the advisor fee to the master."""
        w = self.w
        for ccy, bal in sorted(self.cash[a.id].items()):
            rate = _INTEREST.get(ccy, 0.0) + (0.015 if bal < 0 else 0.0)
            self._cash(a.id, d, ccy, bal * rate / 12, "interest", f"{ccy} interest")
        if a.kind == "sub":
            master = w.master.id
            fee = _r2(a.deposit * 0.0005)
            self._cash(a.id, d, a.currency, -fee, "advisor_fee", f"advisor fee to {master}")
            usd = fee * w._usd[a.currency][i]
            self._cash(master, d, "USD", usd, "advisor_fee", f"advisor fee from {a.id}")

    def _fund(self, a: Account, d: datetime.date, i: int) -> None:
        """Convert base currency into any other currency whose balance went too negative."""
        for ccy, bal in sorted(self.cash[a.id].items()):
            if ccy == a.currency:
                continue
            bal_base = bal * self.w._usd[ccy][i] / self.w._usd[a.currency][i]
            if bal_base > -5_000:
                continue
            need = -bal * 1.05
            pair = self.pairs.get((ccy, a.currency)) or self.pairs.get((a.currency, ccy))
            if pair is None:
                continue
            px = self.w._prices[pair.conid][i]
            if pair.symbol == ccy:
                dq = float(math.ceil(need / 1000) * 1000)
            else:
                dq = -float(math.ceil(need / px / 1000) * 1000)
            self.fill(a.id, pair, d, dq, i)
