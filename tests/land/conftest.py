"""Fixtures for landing tests: small valid frames, a lake, and a warehouse in a temp folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ibkr_pipelines.extract.contracts import parse_contracts
from ibkr_pipelines.extract.ledger import parse_ledger
from ibkr_pipelines.extract.positions import parse_positions
from ibkr_pipelines.land.lake import Lake, PartitionSlice
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.land.warehouse import LoadResult, Warehouse

DAY1 = dt.date(2026, 4, 1)
DAY2 = dt.date(2026, 4, 2)


def position(conid: Any, **fields: Any) -> dict[str, Any]:
    """One /positions row as IBKR sends it (camelCase), with overridable fields."""
    row = {"acctId": "U1", "conid": conid, "contractDesc": f"C{conid}", "position": 10.0, "mktPrice": 10.0,
           "mktValue": 100.0, "currency": "USD", "assetClass": "STK", "baseMktValue": 100.0,
           "baseUnrealizedPnl": 5.0, "ticker": f"T{conid}", "name": f"N{conid}"}
    row.update(fields)
    return row


def positions_frame(rows: list[dict[str, Any]], day: dt.date, account_id: str = "U1") -> pl.DataFrame:
    return parse_positions(rows, account_id=account_id, snapshot_date=day)


def ledger_frame(entries: dict[str, dict[str, Any]], day: dt.date, account_id: str = "U1") -> pl.DataFrame:
    return parse_ledger(entries, account_id=account_id, snapshot_date=day)


def contracts_frame(items: list[dict[str, Any]], day: dt.date) -> pl.DataFrame:
    return parse_contracts({"secdef": items}, snapshot_date=day)


class Landing:
    """validate -> lake -> warehouse for one table partition, as the pipeline does it."""

    def __init__(self, data_dir: Path) -> None:
        self.lake = Lake(data_dir)
        self.warehouse = Warehouse(data_dir / "ibkr.duckdb", lock_timeout=5.0)
        self.warehouse.ensure_schema()

    def land(
        self,
        table: str,
        day: dt.date,
        df: pl.DataFrame,
        run_id: str = "run-1",
        *,
        accounts: tuple[str, ...] | None = None,
        allow_shrink: bool = False,
    ) -> LoadResult:
        valid, quarantine = split_valid(table, df, partition_key=day.isoformat(), run_id=run_id)
        covered = PartitionSlice("account_id", accounts) if accounts is not None else None
        path = self.lake.write_partition(table, day, valid, slice_=covered)
        qpath = self.lake.write_quarantine(table, day, quarantine)
        return self.warehouse.load_partition(table, day, path, run_id, quarantine=qpath, allow_shrink=allow_shrink)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.warehouse.query_readonly(sql)[1]


@pytest.fixture
def landing(tmp_path: Path) -> Landing:
    return Landing(tmp_path)
