"""Issue 9 over simulated nights: every execution once across skipped nights, a named gap when too many are
skipped, and each account's NAV equal to the world's and to the ledger's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest

from assets.factory import warehouse_checks
from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import Connection, open_connection, sharing_simulator, start_embedded_simulator
from ibkr_pipelines.simulator.clock import close_datetime
from ibkr_pipelines.simulator.performance import nav_base
from ibkr_pipelines.sources import SOURCES
from ibkr_pipelines.staging import LoadSummary, Storage, load_table, stage_source
from ibkr_pipelines.trading_calendar import trading_date
from ibkr_pipelines.windows import DateWindow
from tests.fast_limits import FAST_LIMITS

START = dt.date(2026, 10, 5)  # a Monday
DAY = dt.timedelta(days=1)


class Nights:
    """A data folder, an embedded simulator and a connection; ``run`` lands chosen sources for one night."""

    def __init__(self, root: Path, connection: Connection) -> None:
        self.storage = Storage.at(root / "data")
        self.connection = connection
        self.loads: dict[str, list[LoadSummary]] = {}

    @property
    def world(self):  # type: ignore[no-untyped-def]
        return self.connection.simulator.world  # type: ignore[union-attr]

    def run(self, night: dt.date, *sources: str) -> None:
        for name in sources:
            source = SOURCES[name]
            stage_source(source, self.connection.client, self.storage, DateWindow.of(night),
                         run_id=f"night-{night}", dates=self.connection)
            for table in source.tables:
                self.loads.setdefault(table, []).append(
                    load_table(table, self.storage, DateWindow.of(night), f"night-{night}"))

    def query(self, sql: str) -> list[tuple]:
        with self.storage.warehouse.connect(read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture
def nights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Nights]:
    monkeypatch.delenv("IBKR_BASE_URL", raising=False)
    monkeypatch.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
    monkeypatch.setenv("IBKR_LIMITS", FAST_LIMITS)
    monkeypatch.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
    settings = Settings.from_env()
    simulator = start_embedded_simulator(settings, START)
    try:
        with sharing_simulator(simulator), open_connection(settings) as connection:
            yield Nights(tmp_path, connection)
    finally:
        simulator.stop()


def _visible(nights: Nights, night: dt.date) -> set[str]:
    """What IBKR's trades endpoint shows on ``night``: the last 7 New York days, up to the simulated close."""
    now = close_datetime(night)
    return {
        e.exec_id
        for e in nights.world.executions
        if night - 6 * DAY <= trading_date(e.trade_time) <= night and e.trade_time <= now
    }


def test_ten_nights_with_up_to_six_skipped_land_every_execution_once(nights: Nights) -> None:
    offsets = (0, 1, 8, 9, 10, 12, 13, 20, 21, 22)  # six nights skipped twice, one once
    ran = [START + n * DAY for n in offsets]
    for night in ran:
        nights.run(night, "executions")
    expected: set[str] = set().union(*(_visible(nights, n) for n in ran))
    landed = [r[0] for r in nights.query("select execution_id from executions")]
    assert len(landed) == len(set(landed)), "an execution landed twice"
    assert set(landed) == expected
    # Nothing of the span the nights covered is missing beyond the executions that happened after the
    # last close that could see them (New York evening trades of a night followed by a skip).
    span = {e.exec_id: e for e in nights.world.executions
            if ran[0] - 6 * DAY <= trading_date(e.trade_time) <= ran[-1] and e.trade_time <= close_datetime(ran[-1])}
    late = set(span) - expected
    assert all(e.trade_time > close_datetime(trading_date(e.trade_time)) for e in (span[i] for i in late))
    # Numbers as the world has them: prices and commissions (IBKR's strings), sides B/S, UTC times.
    rows = nights.query("select execution_id, account_id, conid, side, quantity, price, commission, trade_time "
                        "from executions")
    by_id = {e.exec_id: e for e in nights.world.executions}
    for exec_id, account, conid, side, quantity, price, commission, traded in rows:
        e = by_id[exec_id]
        assert (account, conid, side, quantity) == (e.account, e.conid, e.side, e.quantity)
        assert price == pytest.approx(e.price) and commission == pytest.approx(e.commission)
        assert traded == e.trade_time.replace(tzinfo=None)
    assert all(not s.uncovered for s in nights.loads["executions"])


def test_nine_skipped_nights_leave_a_gap_the_check_names(nights: Nights) -> None:
    nights.run(START, "executions")
    nights.run(START + 10 * DAY, "executions")
    last = nights.loads["executions"][-1]
    gap = DateWindow(START + DAY, START + 3 * DAY)
    assert last.uncovered == (gap,)
    check = next(c for c in warehouse_checks("executions", last) if c.check_name == "no_uncovered_dates")
    assert not check.passed
    assert str(gap) in (check.description or "") and "Flex" in (check.description or "")


def test_nav_equals_the_worlds_and_the_ledgers(nights: Nights) -> None:
    ran = [START, START + DAY, START + 7 * DAY]
    for night in ran:
        nights.run(night, "ledger", "performance")
    navs = nights.query("select account_id, nav_date, nav from nav_daily order by 1, 2")
    accounts = {a.id for a in nights.world.accounts}
    assert {a for a, _, _ in navs} == accounts
    # The 7-day span of each night: business days from START - 6 to the last night.
    assert {d for _, d, _ in navs} == {d for d in DateWindow(START - 6 * DAY, ran[-1]) if d.weekday() < 5}
    for account, day, nav in navs:
        assert nav == pytest.approx(nav_base(nights.world, account, day), abs=0.01), (account, day)
    both = nights.query(
        "select n.account_id, n.nav_date, n.nav, l.net_liquidation_value from nav_daily n join ledger l "
        "on l.account_id = n.account_id and l.snapshot_date = n.nav_date and l.currency = 'BASE'")
    assert len(both) == len(accounts) * len(ran)
    assert all(nav == pytest.approx(ledger, abs=0.01) for _, _, nav, ledger in both)
    # Daily returns chain into IBKR's cumulative ones within a period.
    returns = nights.query("select count(*), count(daily_return) from returns_daily")
    assert returns[0][0] == len(navs) and returns[0][1] == len(navs)


def test_orders_are_the_sessions_orders_as_ibkr_names_them(nights: Nights) -> None:
    from ibkr_pipelines.simulator.orders import session_orders

    night = START + DAY
    nights.run(night, "orders")
    simulator = nights.connection.simulator
    accounts = [a.id for a in nights.world.accounts]
    expected = {(o.order_id, o.account, o.status, "B" if o.side == "BUY" else "S")
                for o in session_orders(nights.world, accounts, night, simulator.config.open_orders_per_account)}
    landed = set(nights.query("select order_id, account_id, status, side from orders"))
    assert landed == expected
    assert {"Filled", "Cancelled"} <= {status for _, _, status, _ in landed}
    assert {"Submitted", "PreSubmitted"} & {status for _, _, status, _ in landed}
    # Re-running the night (a new pre-flight in the same session) changes nothing.
    before = nights.query("select * from orders order by all")
    nights.run(night, "orders")
    assert nights.query("select * from orders order by all") == before
