"""The world: deterministic, big enough, and internally consistent (positions, cash, expiries)."""

from __future__ import annotations

import datetime
import time
from collections import Counter, defaultdict

from ibkr_pipelines.simulator.api import WorldState
from ibkr_pipelines.simulator.roster import Roster
from ibkr_pipelines.simulator.server import BUILD_MARGIN
from ibkr_pipelines.simulator.world import World

from .conftest import TODAY


def _fingerprint(w: World) -> tuple:
    return (
        tuple(sorted((c.conid, c.symbol, c.asset_class, c.currency) for c in w.contracts.values())),
        tuple((e.exec_id, e.account, e.conid, e.side, e.quantity, e.price, e.commission, e.trade_time)
              for e in w.executions),
        tuple((c.account, c.date, c.currency, c.amount, c.kind) for c in w.cash_events),
    )


def test_same_seed_same_world(world: World) -> None:
    again = World(7, TODAY + BUILD_MARGIN)
    assert _fingerprint(again) == _fingerprint(world)
    assert _fingerprint(World(8, TODAY + BUILD_MARGIN)) != _fingerprint(world)


def test_a_150_client_world_builds() -> None:
    big = World(7, datetime.date(2026, 12, 20), Roster(extra_subaccounts=150))
    assert len(big.accounts) == 156


def test_counts_and_classes(world: World) -> None:
    assert len(world.contracts) >= 150
    classes = Counter(c.asset_class for c in world.contracts.values())
    assert {"STK", "OPT", "FUT", "CASH", "BOND"} <= set(classes)
    assert any(c.type == "ETF" for c in world.contracts.values())
    assert len({c.currency for c in world.contracts.values()}) >= 4
    kinds = Counter(a.kind for a in world.accounts)
    assert kinds["master"] == 1 and kinds["sub"] >= 3 and kinds["individual"] == 1
    bases = {a.id: a.currency for a in world.accounts}
    assert "EUR" in {bases[a.id] for a in world.accounts if a.kind == "sub"}
    assert bases["U7000099"] == "GBP" and bases["F7000001"].startswith("USD")
    dates = [e.trade_date for e in world.executions]
    assert 1000 <= len(world.executions) <= 10000
    assert (min(dates) - max(d for d in dates if d <= TODAY)).days <= -365
    assert max(dates) <= world.through
    opt = [c for c in world.contracts.values() if c.asset_class == "OPT"]
    assert all(c.multiplier == 100 and c.right in ("C", "P") and c.strike > 0 for c in opt)
    assert all(world.contracts[c.und_conid].asset_class == "STK" for c in opt)
    assert {c.multiplier for c in world.contracts.values() if c.asset_class == "FUT"} >= {50, 20, 10}
    for c in world.contracts.values():
        if c.asset_class in ("OPT", "FUT", "BOND"):
            assert c.expiry is not None and c.expiry > world.through


def test_positions_are_sum_of_executions(world: World) -> None:
    for d in (TODAY - datetime.timedelta(days=200), TODAY, world.through):
        for a in world.accounts:
            expected: dict[int, float] = defaultdict(float)
            for e in world.executions:
                if e.account == a.id and e.trade_date <= d and world.contracts[e.conid].asset_class != "CASH":
                    expected[e.conid] += e.signed_quantity
            assert world.positions_as_of(a.id, d) == {k: v for k, v in expected.items() if abs(v) > 1e-9}


def test_cash_is_sum_of_cash_events(world: World) -> None:
    for a in world.accounts:
        expected: dict[str, float] = defaultdict(float)
        for ev in world.cash_events:
            if ev.account == a.id and ev.date <= TODAY:
                expected[ev.currency] += ev.amount
        got = world.cash_as_of(a.id, TODAY)
        assert set(got) == set(expected)
        for ccy, v in expected.items():
            assert abs(got[ccy] - v) < 0.005


def test_portfolio_features(world: World) -> None:
    sizes = {a.id: len(world.positions_as_of(a.id, TODAY)) for a in world.accounts}
    assert max(sizes.values()) > 100
    all_pos = [q for a in world.accounts for q in world.positions_as_of(a.id, TODAY).values()]
    assert any(q < 0 for q in all_pos)
    # a closed-out contract: traded by an account but not held at TODAY
    closed = [(e.account, e.conid) for e in world.executions if e.trade_date <= TODAY
              and world.contracts[e.conid].asset_class != "CASH"
              and e.conid not in world.positions_as_of(e.account, TODAY)]
    assert closed
    kinds = Counter(ev.kind for ev in world.cash_events)
    assert {"deposit", "trade", "commission", "dividend", "interest", "advisor_fee", "fx"} <= set(kinds)
    assert all(ev.amount > 0 for ev in world.cash_events if ev.kind == "advisor_fee" and ev.account == "F7000001")


def test_fx_executions_move_two_currencies_and_no_position(world: World) -> None:
    fx = [e for e in world.executions if world.contracts[e.conid].asset_class == "CASH"]
    assert fx
    e = fx[0]
    c = world.contracts[e.conid]
    legs = {(ev.currency, ev.kind) for ev in world.cash_events if ev.ref == e.exec_id}
    assert (c.symbol, "fx") in legs and (c.currency, "fx") in legs
    assert all(e.conid not in world.positions_as_of(e.account, world.through) for e in fx)


def test_prices_and_fx(world: World) -> None:
    conid = next(iter(world.contracts))
    saturday = datetime.date(2026, 11, 21)
    assert world.price(conid, saturday) == world.price(conid, datetime.date(2026, 11, 20))
    assert world.fx_rate("USD", "USD", TODAY) == 1.0
    r = world.fx_rate("EUR", "USD", TODAY)
    assert 0.5 < r < 2.0 and abs(world.fx_rate("USD", "EUR", TODAY) * r - 1) < 1e-6


def test_simulators_of_one_seed_and_date_share_one_built_world() -> None:
    # A world is a pure function of (seed, through, roster, funding) and read-only once built, so a process
    # builds it once (api._WORLDS); what a world is made from still tells two worlds apart.
    first = WorldState.build(7, TODAY)
    assert WorldState.build(7, TODAY).world is first.world
    assert WorldState.build(7, TODAY).views is not first.views, "each simulator's answers start fresh"
    assert WorldState.build(8, TODAY).world is not first.world
    assert WorldState.build(7, TODAY, Roster(paper=True)).world is not first.world
    assert WorldState.build(7, TODAY + datetime.timedelta(days=1)).world is not first.world
