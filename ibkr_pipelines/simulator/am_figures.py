"""The figures an Account Management statement shows, from the world: NAV at both ends and the cash flows between.

Every figure is in the account's base currency: NAV is the ledger's (``Views.nav_base``, the same number
as /pa and Flex), cash events are the world's, each converted at its date's rate (``World.fx_rate``) and
summed in the world's order, then rounded to cents. The starting NAV is the close of the day before the
period (0 on the funding date: nothing was there before).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.world import World

# The world's cash-event kinds a statement shows, with their line titles (kinds from world.py: trade
# legs and FX conversions are not flows in or out, so they only move NAV).
FLOWS = (("deposit", "Deposits and withdrawals"), ("transfer", "Internal transfers"), ("dividend", "Dividends"),
         ("interest", "Interest"), ("advisor_fee", "Advisor fees"), ("commission", "Commissions"))
# The kinds that fund an account: its first such event (money in) is its funding date (reference §3.3).
_FUNDING_KINDS = ("deposit", "transfer")


def funding_date(world: World, account_id: str) -> datetime.date | None:
    """The date money first reached the account (its first deposit or incoming transfer), None if never."""
    for ev in world.cash_events_for(account_id):
        if ev.kind in _FUNDING_KINDS and ev.amount > 0:
            return ev.date
    return None


@dataclass(frozen=True)
class Figures:
    """One account over one period: who, when, NAV at both ends and each flow (base currency, cents)."""

    account_id: str
    title: str
    currency: str
    start: datetime.date
    end: datetime.date
    starting_nav: float
    ending_nav: float
    flows: tuple[tuple[str, float], ...]  # (line title, amount), in FLOWS order


def figures(world: World, views: Views, account_id: str, start: datetime.date, end: datetime.date,
            funded: datetime.date) -> Figures:
    """The figures of ``account_id`` from ``start`` to ``end`` (both on or after ``funded``)."""
    acct = world.account_by_id[account_id]
    base = acct.currency
    sums = {kind: 0.0 for kind, _ in FLOWS}
    for ev in world.cash_events_for(account_id):
        if start <= ev.date <= end and ev.kind in sums:
            sums[ev.kind] += ev.amount * world.fx_rate(ev.currency, base, ev.date)
    before = start - datetime.timedelta(days=1)
    starting = 0.0 if before < funded else views.nav_base(account_id, before)
    ending = views.nav_base(account_id, end)
    return Figures(account_id, acct.title, base, start, end, round(starting, 2), round(ending, 2),
                   tuple((title, round(sums[kind], 2) + 0.0) for kind, title in FLOWS))
