"""The issue-9 tables land from extractor frames through the lake into DuckDB, each by its load strategy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ibkr_pipelines.extract.orders import parse_orders
from ibkr_pipelines.extract.pa_transactions import parse_pa_transactions
from ibkr_pipelines.extract.performance import parse_allperiods
from ibkr_pipelines.extract.trades import parse_trades
from ibkr_pipelines.land.lake import Lake, PartitionSlice
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.land.warehouse import LoadResult, Warehouse
from ibkr_pipelines.windows import DateWindow
from tests.extract.conftest import recorded_dir

DAY = dt.date(2023, 12, 11)


class Landing:
    """validate -> lake -> warehouse for one partition, as staging does it."""

    def __init__(self, root: Path) -> None:
        self.lake = Lake(root)
        self.warehouse = Warehouse(root / "ibkr.duckdb", lock_timeout=5.0)
        self.warehouse.ensure_schema()

    def land(self, table: str, day: dt.date, frame: pl.DataFrame, slice_: PartitionSlice | None = None) -> LoadResult:
        valid, quarantine = split_valid(table, frame, partition_key=day.isoformat(), run_id="run-1")
        path = self.lake.write_partition(table, day, valid, slice_=slice_)
        qpath = self.lake.write_quarantine(table, day, quarantine)
        return self.warehouse.load_partition(table, day, path, "run-1", quarantine=qpath)

    def rows(self, sql: str) -> list[tuple]:
        return self.warehouse.query_readonly(sql)[1]


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path)


@pytest.fixture
def recorded_bodies() -> tuple[Any, Any]:
    root = recorded_dir()
    if not root.is_dir():
        pytest.skip(f"recorded IBKR responses not found at {root}")

    def load(name: str) -> Any:
        return json.loads((root / name).read_text(encoding="utf-8"))["Response"]["Body"]

    return load("Orders/GET-live-orders.json"), load("Portfolio/POST-pa-allperiods.json")


def _trade(execution_id: str, commission: str) -> dict:
    return {"execution_id": execution_id, "conid": 265598, "side": "S", "size": 5, "price": "192.26",
            "commission": commission, "trade_time_r": 1702317649000, "account": "U1"}


def test_executions_upsert_by_execution_id(landing: Landing) -> None:
    window = DateWindow.of(DAY)
    landing.land("executions", DAY, parse_trades([_trade("a", "1.0"), _trade("b", "1.0")], window=window),
                 PartitionSlice("account_id", ("U1",)))
    landing.land("executions", DAY, parse_trades([_trade("b", "2.5")], window=window), PartitionSlice("account_id", ("U1",)))
    assert landing.rows("SELECT execution_id, commission FROM executions ORDER BY 1") == [("a", 1.0), ("b", 2.5)]


def test_orders_nav_and_returns_land(landing: Landing, recorded_bodies) -> None:
    orders_body, allperiods_body = recorded_bodies
    landing.land("orders", DAY, parse_orders(orders_body, snapshot_date=DAY))
    assert landing.rows("SELECT order_id, status FROM orders") == [(473740665, "Filled")]
    frames = parse_allperiods(allperiods_body, window=DateWindow(dt.date(2026, 3, 27), dt.date(2026, 3, 27)))
    day = dt.date(2026, 3, 27)
    landing.land("nav_daily", day, frames["nav_daily"])
    landing.land("returns_daily", day, frames["returns_daily"])
    assert landing.rows("SELECT account_id, nav, daily_return FROM nav_and_returns") == [
        ("U1234567", 1004581.15, 8.616e-5)]


def _transactions(*quantities: float) -> dict:
    return {"transactions": [{"rawDate": "20231211", "qty": q, "acctid": "U1", "conid": 265598, "type": "Buy"}
                             for q in quantities]}


def test_pa_transactions_replace_their_date(landing: Landing) -> None:
    window = DateWindow.of(DAY)
    landing.land("pa_transactions", DAY, parse_pa_transactions(_transactions(1, 2), window=window))
    landing.land("pa_transactions", DAY, parse_pa_transactions(_transactions(3), window=window))
    assert landing.rows("SELECT conid, seq, quantity FROM pa_transactions") == [(265598, 1, 3.0)]


def test_pa_transactions_replace_only_the_conids_a_run_covered(landing: Landing) -> None:
    window = DateWindow.of(DAY)
    landing.land("pa_transactions", DAY, parse_pa_transactions(_transactions(1), window=window),
                 PartitionSlice("conid", ("265598",)))
    other = {"transactions": [{"rawDate": "20231211", "qty": 7, "acctid": "U1", "conid": 8314, "type": "Buy"}]}
    landing.land("pa_transactions", DAY, parse_pa_transactions(other, window=window), PartitionSlice("conid", ("8314",)))
    assert landing.rows("SELECT conid, quantity FROM pa_transactions ORDER BY 1") == [(8314, 7.0), (265598, 1.0)]
