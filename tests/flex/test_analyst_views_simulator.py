"""The Flex analyst views over what the embedded simulator's Flex service writes: an Activity statement and a
Trade Confirmation report of October 2026 for two accounts (USD and EUR based), landed in-process, reconcile
with the simulator's world (its cash events, executions and FIFO replay)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace

import pytest

from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.simulator.flex_queries import DEFAULT_QUERIES
from ibkr_pipelines.simulator.flex_statement import Run, Writer
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.server import BUILD_MARGIN
from ibkr_pipelines.simulator.world import World
from tests.flex.flexland import land_flex

TODAY = dt.date(2026, 11, 20)  # the simulated day the reports are generated (as tests/simulator)
# Dividends are paid from the 15th; their late withholding adjustments come 10 business days later (10-29).
START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 30)
ACCOUNTS = ("U7000011", "U7000012")
ACTIVITY, CONFIRMATIONS = DEFAULT_QUERIES[2], DEFAULT_QUERIES[4]  # History Since Inception; Trade Confirmations


@pytest.fixture(scope="module")
def world() -> World:
    """The seed-7 world as a simulator at TODAY builds it."""
    return World(7, TODAY + BUILD_MARGIN)


@pytest.fixture(scope="module")
def warehouse(world: World, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Both reports of START..END, as the Flex service writes them, landed."""
    documents = []
    for query in (ACTIVITY, CONFIRMATIONS):
        run = Run(replace(query, accounts=ACCOUNTS), START, END, "", TODAY)
        documents.append("\n".join(Writer(world, Views(world), run).lines()))
    return land_flex(tmp_path_factory.mktemp("flex-sim-views"), *documents, today=TODAY)


def by_account_and_currency(world: World, kinds: set[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """The world's cash events of ``kinds`` in START..END: (amount, amount in base) per account and currency."""
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for account in ACCOUNTS:
        base = world.account(account).currency
        for ev in world.cash_events_for(account):
            if ev.kind in kinds and START <= ev.date <= END:
                out[account, ev.currency][0] += ev.amount
                out[account, ev.currency][1] += ev.amount * world.fx_rate(ev.currency, base, ev.date)
    return {key: (round(a, 2), round(b, 2)) for key, (a, b) in out.items()}


def view_sums(warehouse: Warehouse, sql: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(account, currency) -> two sums, rounded to cents."""
    return {(a, c): (round(x, 2), round(y, 2)) for a, c, x, y in warehouse.query_readonly(sql)[1]}


def assert_close(got: dict[tuple[str, str], tuple[float, ...]],
                 expected: dict[tuple[str, str], tuple[float, ...]]) -> None:
    """The same keys, and each key's numbers within two cents (the world rounds each event to cents)."""
    assert got.keys() == expected.keys()
    for key, numbers in expected.items():
        assert got[key] == pytest.approx(numbers, abs=0.02), key


def test_dividends_net_of_tax_are_the_worlds_dividends(world: World, warehouse: Warehouse) -> None:
    got = view_sums(warehouse, "SELECT account_id, currency, sum(net_dividends), sum(net_dividends_base) "
                               "FROM dividends_and_withholding GROUP BY ALL")
    expected = by_account_and_currency(world, {"dividend"})
    assert len(got) > 2
    assert_close(got, expected)
    quirks = warehouse.query_readonly(
        "SELECT sum(payments_in_lieu), sum(withholding_tax), count(*) FILTER (WHERE lines > 2) "
        "FROM dividends_and_withholding")[1][0]
    assert quirks[0] > 0 and quirks[1] < 0 and quirks[2] > 0  # in lieu, taxes, late adjustments all present


def test_fees_and_interest_are_the_worlds_fees_and_interest(world: World, warehouse: Warehouse) -> None:
    got = view_sums(warehouse, "SELECT account_id, currency, sum(amount), sum(amount_base) FROM fees_and_interest "
                               "GROUP BY ALL")
    assert_close(got, by_account_and_currency(world, {"interest", "advisor_fee"}))
    assert {k for (k,) in warehouse.query_readonly("SELECT DISTINCT kind FROM fees_and_interest")[1]} >= {
        "advisor_fee", "interest_received"}


def test_realized_pnl_counts_each_execution_once(world: World, warehouse: Warehouse) -> None:
    landed = warehouse.query_readonly("SELECT element, count(*) FROM flex_trades GROUP BY ALL ORDER BY 1")[1]
    assert landed[0][0] == "Trade" and landed == [("Trade", landed[0][1]), ("TradeConfirm", landed[0][1])]
    got = warehouse.query_readonly("SELECT account_id, currency, sum(executions), sum(commission), "
                                   "sum(realized_pnl) FROM realized_pnl_by_year GROUP BY ALL")[1]
    expected: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for account in ACCOUNTS:
        for e in world.executions_for(account):
            if START <= e.trade_date <= END:
                expected[account, e.currency][0] += 1
                expected[account, e.currency][1] -= e.commission
        for conid in {e.conid for e in world.executions_for(account)}:
            for e, realized, _ in world.realized_fills(account, conid):
                if START <= e.trade_date <= END:
                    expected[account, e.currency][2] += realized
    assert_close({(a, c): (n, fee, pnl) for a, c, n, fee, pnl in got},
                 {key: (n, fee, pnl) for key, (n, fee, pnl) in expected.items()})
