"""The two steps of every dataset, shared by the Dagster assets and tests:
stage (fetch from IBKR, validate, write the lake partition and its quarantine) and
load (one DuckDB transaction from the lake partition)."""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.datasets import Dataset, FetchInputs
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import Lake, PartitionSlice, partition_key_of
from ibkr_pipelines.land.raw_archive import RawArchive
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.schemas.registry import ANALYST_COLUMNS, NATURAL_KEYS

progress = logging.getLogger("ibkr_pipelines.progress")

# Every per-account table names its account in this column.
ACCOUNT_COLUMN = "account_id"


class MissingUpstream(IbkrPipelinesError):
    """A dataset needs a lake partition that has not been staged yet."""


@dataclass(frozen=True)
class Storage:
    """Where one deployment keeps its data: lake, raw archive, and the DuckDB warehouse."""

    root: Path
    lake: Lake
    raw: RawArchive
    warehouse: Warehouse

    @classmethod
    def at(cls, root: Path, *, lock_timeout: float = 600.0) -> "Storage":
        """Storage under ``root`` (``data/`` by default); DuckDB connections wait ``lock_timeout`` s for the file."""
        warehouse = Warehouse(root / "ibkr.duckdb", lock_timeout=lock_timeout)
        return cls(root=root, lake=Lake(root), raw=RawArchive(root), warehouse=warehouse)


@dataclass(frozen=True)
class StageResult:
    """What staging one dataset partition produced."""

    table: str
    partition: str
    rows: int
    quarantined: int
    lake_path: Path
    columns: dict[str, str]
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadSummary:
    """What loading one partition into DuckDB left there."""

    table: str
    partition: str
    rows: int
    quarantined: int
    columns: dict[str, str]
    duplicate_keys: int = 0
    lock_wait_seconds: float = 0.0
    missing_values: dict[str, int] = field(default_factory=dict)  # analyst column -> rows without a value


def _upstream(dataset: Dataset, lake: Lake, key: str) -> dict[str, pl.DataFrame]:
    frames = {}
    for table in dataset.upstream:
        if not lake.partition_path(table, key).exists():
            raise MissingUpstream(f"{dataset.table} needs lake/{table} for {key}: materialize {table} first")
        frames[table] = lake.read_partition(table, key)
    return frames


def stage_dataset(
    dataset: Dataset,
    client: IbkrClient,
    storage: Storage,
    as_of: datetime.date,
    account_filter: tuple[str, ...] = (),
    *,
    run_id: str | None = None,
) -> StageResult:
    """Fetch one dataset for ``as_of``, archive the raw answers, validate, and write the lake partition."""
    key = partition_key_of(as_of)
    started = time.monotonic()
    before = client.stats.totals().requests
    upstream = _upstream(dataset, storage.lake, key)
    accounts = upstream.get("accounts")
    inputs = FetchInputs(
        as_of=as_of,
        account_ids=tuple(accounts.get_column("account_id").to_list()) if accounts is not None else (),
        account_filter=account_filter,
        upstream=upstream,
    )

    with client.recording(storage.raw.hook(key)):
        fetched = dataset.fetch(client, inputs)
    for _ in range(fetched.cold_read_retries):
        client.stats.note("cold_read_retries")
    valid, quarantine = split_valid(dataset.table, fetched.frame, partition_key=key, run_id=run_id)
    covered = PartitionSlice(ACCOUNT_COLUMN, fetched.accounts) if fetched.accounts is not None else None
    path = storage.lake.write_partition(dataset.table, key, valid, slice_=covered)
    storage.lake.write_quarantine(dataset.table, key, quarantine)
    reasons = (
        {r: n for r, n in quarantine.group_by("reason").len().iter_rows()} if quarantine.height else {}
    )
    progress.info(
        "%-16s %s  %5d rows  %3d quarantined  %4d requests  %.1f s",
        dataset.table, key, valid.height, quarantine.height,
        client.stats.totals().requests - before, time.monotonic() - started,
    )
    return StageResult(
        table=dataset.table,
        partition=key,
        rows=valid.height,
        quarantined=quarantine.height,
        lake_path=path,
        columns={name: str(dtype) for name, dtype in valid.schema.items()},
        reasons=reasons,
    )


def load_dataset(
    dataset: Dataset, storage: Storage, partition_key: str, run_id: str, *, allow_shrink: bool = False
) -> LoadSummary:
    """Load the staged lake partition (and its quarantine) into DuckDB in one transaction."""
    lake = storage.lake
    path = lake.partition_path(dataset.table, partition_key)
    if not path.exists():
        raise MissingUpstream(f"no lake partition {path}: stage {dataset.table} for {partition_key} first")
    quarantine = lake.quarantine_path(dataset.table, partition_key)
    warehouse = storage.warehouse
    waited_before = warehouse.lock_wait_seconds
    warehouse.ensure_schema()
    result = warehouse.load_partition(
        dataset.table,
        partition_key,
        path,
        run_id,
        quarantine=quarantine if quarantine.exists() else None,
        allow_shrink=allow_shrink,
    )
    key = ", ".join(NATURAL_KEYS[dataset.table])
    with warehouse.connect(read_only=True) as con:
        described = con.execute(f"describe {dataset.table}").fetchall()
        (duplicates,) = con.execute(
            f"select count(*) from (select {key} from {dataset.table} group by all having count(*) > 1)"
        ).fetchone()
    progress.info("%-16s %s  loaded into DuckDB (%d rows)", dataset.table, partition_key, result.rows)
    required = ANALYST_COLUMNS.get(dataset.table, ())
    loaded = pl.read_parquet(path, columns=list(required)) if required else pl.DataFrame()
    return LoadSummary(
        table=dataset.table,
        partition=partition_key,
        rows=result.rows,
        quarantined=result.quarantined,
        columns={row[0]: str(row[1]) for row in described},
        duplicate_keys=int(duplicates),
        lock_wait_seconds=round(warehouse.lock_wait_seconds - waited_before, 3),
        missing_values={column: int(loaded[column].null_count()) for column in required},
    )
