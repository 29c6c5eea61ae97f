"""The activity of the thin FA client accounts that ``extra_subaccounts`` adds (a 150-client FA).

Each thin client has its own random stream, so adding them leaves every other account's history as
it was (only the master's advisor-fee income grows). A thin client holds a few USD stocks: it buys
them on its first business days, then trades about once a month (on the first business day of the
month), and gets dividends, interest and the advisor fee like the other clients. It stays in USD so it
never needs FX funding. The sizes and the monthly rhythm are our choice (a guess at a small client),
not IBKR behaviour; only the ledger rules (cash events, average cost) are shared with world.py.

Work is done only on the few days something happens (opening days, month starts, dividend days), so
150 thin clients add little to a world's build time.
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.roster import Account

if TYPE_CHECKING:
    from ibkr_pipelines.simulator.world import Serial, _ActivityGenerator

# Execution numbers of thin client n start at THIN_EXEC_BASE + n * THIN_EXEC_SPAN (kept apart from the
# main stream's 0x65xxxxxx numbers, so exec ids stay unique).
THIN_EXEC_BASE = 0x70000000
THIN_EXEC_SPAN = 0x1000
THIN_ORDER_BASE = 2_000_000_000


@dataclass
class _Thin:
    account: Account
    rng: random.Random
    universe: list[Contract]
    serial: "Serial"


class ThinClients:
    """Walks the thin client accounts day by day, inside the main generator's walk (same cash books)."""

    def __init__(self, gen: "_ActivityGenerator", accounts: list[Account]) -> None:
        from ibkr_pipelines.simulator.world import Serial

        self.gen = gen
        pool = sorted((c for c in gen.w.contracts.values() if c.asset_class == "STK" and c.currency == "USD"),
                      key=lambda c: c.conid)
        self.clients: list[_Thin] = []
        for n, a in enumerate(accounts, start=1):
            rng = random.Random(f"{gen.w.seed}-thin-{a.live_id}")
            universe = rng.sample(pool, rng.randint(3, 6))
            serial = Serial(THIN_EXEC_BASE + n * THIN_EXEC_SPAN, THIN_ORDER_BASE + n * THIN_EXEC_SPAN)
            self.clients.append(_Thin(a, rng, universe, serial))

    def day(self, d: datetime.date, i: int, first_of_month: bool, dividend_day: bool) -> None:
        """Everything the thin clients do on business day ``i`` (``d``); nothing on most days."""
        if not self.clients or not (i <= 6 or first_of_month or dividend_day):
            return
        gen = self.gen
        for t in self.clients:
            a = t.account
            if i <= len(t.universe):
                c = t.universe[i - 1]
                px = gen.w._prices[c.conid][i]
                q = float(max(1, int(a.deposit * t.rng.uniform(0.08, 0.15) / px)))
                gen.fill(a.id, c, d, q, i, t.rng, t.serial)
            elif first_of_month:
                self._monthly_trade(t, d, i)
            if dividend_day:
                gen.dividends(a, d, i)
            if first_of_month:
                gen.month_start(a, d, i)

    def _monthly_trade(self, t: _Thin, d: datetime.date, i: int) -> None:
        """One trade: add to a holding or reduce it (never a full close)."""
        gen = self.gen
        lots = gen.lots[t.account.id]
        held = sorted(lots)
        if not held:
            return
        conid = t.rng.choice(held)
        lot = lots[conid]
        if t.rng.random() < 0.55:
            px = gen.w._prices[conid][i]
            dq = float(max(1, int(t.account.deposit * t.rng.uniform(0.01, 0.03) / px)))
        else:
            dq = -float(math.floor(lot.quantity * t.rng.uniform(0.1, 0.5)))
            if dq == 0 or -dq >= lot.quantity:
                return
        gen.fill(t.account.id, gen.w.contracts[conid], d, dq, i, t.rng, t.serial)
