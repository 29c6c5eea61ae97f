"""A new table is a declaration: a spec and a source registered here land through the unchanged
lake, warehouse, staging and asset code, for each load strategy, over one date and over a window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from assets.factory import source_assets
from assets.resources import IbkrResource, WarehouseResource
from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.schemas import registry
from ibkr_pipelines.schemas.spec import BIGINT, DATE, FLOAT, TEXT, LoadStrategy, Reach, TableSpec, col
from ibkr_pipelines.sources import FetchInputs, FetchOutput, Source, register_source, unregister_source

SNAPSHOT = TableSpec(
    name="test_snapshot",
    description="A per-account daily snapshot (test).",
    source="a test fetch",
    columns=(
        col("snapshot_date", DATE, "The date.", nullable=False),
        col("account_id", TEXT, "The account.", nullable=False),
        col("value", FLOAT, "A value."),
    ),
    natural_key=("snapshot_date", "account_id"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
)
EVENTS = TableSpec(
    name="test_events",
    description="Events seen again on later fetches (test).",
    source="a test fetch",
    columns=(
        col("event_id", TEXT, "The event.", nullable=False),
        col("event_date", DATE, "When it happened.", nullable=False),
        col("amount", FLOAT, "How much."),
    ),
    natural_key=("event_id",),
    load=LoadStrategy.UPSERT,
    partition_column="event_date",
    reach=Reach.ANY,
)
DIMENSION = TableSpec(
    name="test_dimension",
    description="A dimension merged on its key (test).",
    source="a test fetch",
    columns=(
        col("item_id", BIGINT, "The item.", nullable=False),
        col("label", TEXT, "Its label, as last seen."),
        col("first_seen_date", DATE, "First seen.", nullable=False),
        col("last_seen_date", DATE, "Last seen.", nullable=False),
    ),
    natural_key=("item_id",),
    load=LoadStrategy.MERGE_SEEN,
    partition_column="last_seen_date",
    first_seen_column="first_seen_date",
    last_seen_column="last_seen_date",
)

# What the fake IBKR answers: the tests change it between runs.
ANSWERS: dict[str, float] = {"scale": 1.0}


def _snapshot(_client: object, inputs: FetchInputs) -> FetchOutput:
    day = inputs.as_of
    frame = pl.DataFrame(
        {"snapshot_date": [day, day], "account_id": ["A1", "A2"], "value": [day.day * ANSWERS["scale"], 2.0]},
        schema=SNAPSHOT.polars_schema(),
    )
    return FetchOutput({"test_snapshot": frame}, covered=("A1", "A2"))


def _events_and_dimension(_client: object, inputs: FetchInputs) -> FetchOutput:
    """One download feeding two tables, fetched once for the whole window."""
    days = inputs.window.dates()
    events = pl.DataFrame(
        {"event_id": [f"E{d:%m%d}" for d in days], "event_date": days, "amount": [ANSWERS["scale"] * d.day for d in days]},
        schema=EVENTS.polars_schema(),
    )
    dimension = pl.DataFrame(
        {"item_id": [7] * len(days), "label": [f"seen {d}" for d in days], "first_seen_date": days, "last_seen_date": days},
        schema=DIMENSION.polars_schema(),
    )
    return FetchOutput({"test_events": events, "test_dimension": dimension})


SOURCES = (
    Source("test_snapshot", ("test_snapshot",), "test", "A snapshot per date (test).", _snapshot, nightly=False),
    Source("test_download", ("test_events", "test_dimension"), "test", "One download, two tables (test).",
           _events_and_dimension, per_date=False, nightly=False),
)


@pytest.fixture()
def registered() -> Iterator[None]:
    for spec in (SNAPSHOT, EVENTS, DIMENSION):
        registry.register(spec)
    for source in SOURCES:
        register_source(source)
    try:
        yield
    finally:
        for source in SOURCES:
            unregister_source(source.name)
        for spec in (SNAPSHOT, EVENTS, DIMENSION):
            registry.unregister(spec.name)


def _materialize(data_dir: Path, start: str, end: str | None = None) -> dg.ExecuteInProcessResult:
    assets = source_assets(list(SOURCES))
    resources = {"ibkr": IbkrResource(), "warehouse": WarehouseResource(data_dir=str(data_dir))}
    if end is None:
        return dg.materialize(assets, resources=resources, partition_key=start)
    tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
    return dg.materialize(assets, resources=resources, tags=tags)


def _table(data_dir: Path, table: str) -> list[tuple[object, ...]]:
    _, rows = Warehouse(data_dir / "ibkr.duckdb").query_readonly(f"select * from {table} order by all")
    return rows


def test_each_load_strategy_lands_a_window_and_a_rerun_converges(registered: None, tmp_path: Path) -> None:
    ANSWERS["scale"] = 1.0
    assert _materialize(tmp_path, "2026-11-18", "2026-11-20").success
    snapshot = _table(tmp_path, "test_snapshot")
    assert [(r[0], r[1]) for r in snapshot] == [
        (dt.date(2026, 11, d), a) for d in (18, 19, 20) for a in ("A1", "A2")
    ]
    assert _table(tmp_path, "test_events") == [
        (f"E11{d}", dt.date(2026, 11, d), float(d)) for d in (18, 19, 20)
    ]
    assert _table(tmp_path, "test_dimension") == [(7, "seen 2026-11-20", dt.date(2026, 11, 18), dt.date(2026, 11, 20))]
    _, loads = Warehouse(tmp_path / "ibkr.duckdb").query_readonly(
        "select table_name, count(*), count(distinct run_id) from _load_log group by 1 order by 1"
    )
    assert loads == [("test_dimension", 3, 1), ("test_events", 3, 1), ("test_snapshot", 3, 1)], "one run for the range"

    before = {t: _table(tmp_path, t) for t in ("test_snapshot", "test_events", "test_dimension")}
    assert _materialize(tmp_path, "2026-11-18", "2026-11-20").success
    assert {t: _table(tmp_path, t) for t in before} == before, "the same backfill twice changes nothing"

    ANSWERS["scale"] = 10.0  # IBKR now says something else about one date
    assert _materialize(tmp_path, "2026-11-19").success
    assert ("E1119", dt.date(2026, 11, 19), 190.0) in _table(tmp_path, "test_events"), "upserted on its key"
    assert len(_table(tmp_path, "test_events")) == 3
    assert (dt.date(2026, 11, 19), "A1", 190.0) in _table(tmp_path, "test_snapshot"), "the date's slice replaced"
    assert len(_table(tmp_path, "test_snapshot")) == 6
    assert _table(tmp_path, "test_dimension") == before["test_dimension"], "an older sighting keeps the newer label"


def test_new_tables_get_their_columns_and_comments_from_the_spec(registered: None, tmp_path: Path) -> None:
    ANSWERS["scale"] = 1.0
    assert _materialize(tmp_path, "2026-11-20").success
    _, comments = Warehouse(tmp_path / "ibkr.duckdb").query_readonly(
        "select column_name, comment from duckdb_columns() where table_name = 'test_events' order by column_index"
    )
    assert comments == [("event_id", "The event."), ("event_date", "When it happened."), ("amount", "How much.")]
