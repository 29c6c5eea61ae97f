"""Builds the two assets of every dataset: ``lake/<table>`` (extract, validate, Parquet) and
``warehouse/<table>`` (load into DuckDB, in the single-writer pool). Policy lives here once."""


import datetime
from contextlib import contextmanager
from typing import Any, Iterator

import dagster as dg

from assets.partitions import DAILY
from assets.resources import IbkrResource, WarehouseResource
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.config import Settings
from ibkr_pipelines.datasets import Dataset
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.run_control import mark_step_process
from ibkr_pipelines.schemas.registry import ANALYST_COLUMNS, NATURAL_KEYS
from ibkr_pipelines.staging import LoadSummary, load_dataset, stage_dataset

DUCKDB_POOL = "duckdb_writer"
EXTRACT_RETRY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# A load fails for a retryable reason only when a reader kept the DuckDB file past the lock wait.
LOAD_RETRY = dg.RetryPolicy(max_retries=2, delay=60, jitter=dg.Jitter.PLUS_MINUS)


@contextmanager
def failing_in_one_line() -> Iterator[None]:
    """Turn this package's errors into a one-line Dagster failure; no step retry when waiting cannot cure it."""
    try:
        yield
    except IbkrPipelinesError as exc:
        if exc.retryable:
            raise
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def lake_key(table: str) -> dg.AssetKey:
    """Asset key of a dataset's validated Parquet partition."""
    return dg.AssetKey(["lake", table])


def warehouse_key(table: str) -> dg.AssetKey:
    """Asset key of a dataset's DuckDB table."""
    return dg.AssetKey(["warehouse", table])


def table_schema(columns: dict[str, str]) -> dg.TableSchema:
    """A Dagster column schema from ``{column: type}``."""
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=kind) for name, kind in columns.items()])


def landed_metadata(rows: int, columns: dict[str, str], partition: str, quarantined: int) -> dict[str, Any]:
    """The metadata both layers of a dataset report: row count, column schema, partition, quarantined rows."""
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": table_schema(columns),
        "partition": partition,
        "quarantined_rows": quarantined,
    }


def stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the client did between two ``RunStats.as_dict()`` snapshots (per asset, from a shared client)."""
    endpoints: dict[str, dict[str, float]] = {}
    for name, counters in after["endpoints"].items():
        old = before["endpoints"].get(name, {})
        diff = {k: round(v - old.get(k, 0), 3) for k, v in counters.items()}
        if any(diff.values()):
            endpoints[name] = diff
    totals = {k: round(v - before["totals"].get(k, 0), 3) for k, v in after["totals"].items()}
    penalties = after["penalties"][len(before["penalties"]) :]
    return {"totals": totals, "endpoints": endpoints, "penalties": penalties}


def ibkr_metadata(delta: dict[str, Any]) -> dict[str, Any]:
    """Dagster metadata for the IBKR traffic of one asset."""
    totals = delta["totals"]
    return {
        "ibkr_requests": int(totals["requests"]),
        "ibkr_retries": int(totals["retries"]),
        "ibkr_429s": int(totals["throttled"]),
        "ibkr_wait_seconds": float(totals["wait_seconds"]),
        "ibkr_bytes": int(totals["bytes"]),
        "ibkr_endpoints": dg.MetadataValue.json(delta["endpoints"]),
        "ibkr_penalties": dg.MetadataValue.json(delta["penalties"]),
    }


def lake_asset(dataset: Dataset) -> dg.AssetsDefinition:
    """The extract -> validate -> Parquet asset of one dataset."""

    @dg.asset(
        key=lake_key(dataset.table),
        group_name=dataset.group,
        partitions_def=DAILY,
        deps=[lake_key(t) for t in dataset.upstream],
        description=f"{dataset.description} Extracted from IBKR, validated, written to the Parquet lake.",
        kinds={"parquet", "polars"},
        retry_policy=EXTRACT_RETRY,
        tags={"domain": dataset.group},
    )
    def _lake(context: dg.AssetExecutionContext, ibkr: IbkrResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
        as_of = datetime.date.fromisoformat(context.partition_key)
        with failing_in_one_line():
            connection = ibkr.connection(as_of)
            stats: RunStats = connection.client.stats
            before = stats.as_dict()
            result = stage_dataset(
                dataset,
                connection.client,
                warehouse.storage(),
                as_of,
                Settings.from_env().account_ids,
                run_id=context.run.run_id,
            )
        delta = stats_delta(before, stats.as_dict())
        for penalty in delta["penalties"]:
            context.log.warning(f"IBKR pacing penalty: {penalty}")
        if result.quarantined:
            context.log.warning(f"{result.quarantined} {dataset.table} row(s) quarantined: {result.reasons}")
        return dg.MaterializeResult(
            metadata={
                **landed_metadata(result.rows, result.columns, context.partition_key, result.quarantined),
                "quarantine_reasons": dg.MetadataValue.json(result.reasons),
                "lake_path": dg.MetadataValue.path(str(result.lake_path)),
                **ibkr_metadata(delta),
            }
        )

    return _lake


def warehouse_checks(dataset: Dataset, result: LoadSummary) -> list[dg.AssetCheckResult]:
    """Checks on the loaded table: unique natural key, nothing quarantined, analyst columns complete."""
    checks = [
        dg.AssetCheckResult(
            check_name="natural_key_unique",
            passed=result.duplicate_keys == 0,
            metadata={"natural_key": ", ".join(NATURAL_KEYS[dataset.table]), "duplicate_keys": result.duplicate_keys},
        ),
        dg.AssetCheckResult(
            check_name="no_quarantined_rows",
            passed=result.quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_rows": result.quarantined, "partition": result.partition},
        ),
    ]
    if ANALYST_COLUMNS.get(dataset.table):
        checks.append(
            dg.AssetCheckResult(
                check_name="analyst_columns_complete",
                passed=not any(result.missing_values.values()),
                metadata={"rows_missing_a_value": dg.MetadataValue.json(result.missing_values)},
            )
        )
    return checks


def warehouse_asset(dataset: Dataset) -> dg.AssetsDefinition:
    """The DuckDB load asset of one dataset (single-writer pool, one transaction, idempotent)."""
    key = warehouse_key(dataset.table)

    @dg.asset(
        key=key,
        group_name=dataset.group,
        partitions_def=DAILY,
        deps=[lake_key(dataset.table)],
        description=f"{dataset.description} Loaded into DuckDB table `{dataset.table}` (merged on its natural key).",
        kinds={"duckdb"},
        pool=DUCKDB_POOL,
        retry_policy=LOAD_RETRY,
        tags={"domain": dataset.group},
        check_specs=[
            dg.AssetCheckSpec("natural_key_unique", asset=key, description="No two rows share the natural key."),
            dg.AssetCheckSpec("no_quarantined_rows", asset=key, description="Every extracted row passed validation."),
            *(
                [dg.AssetCheckSpec(
                    "analyst_columns_complete",
                    asset=key,
                    description=f"Every landed row has {', '.join(ANALYST_COLUMNS[dataset.table])}.",
                )]
                if ANALYST_COLUMNS.get(dataset.table)
                else []
            ),
        ],
    )
    def _warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        mark_step_process(context.instance, context.run.run_id, context.get_step_execution_context().step.key)
        with failing_in_one_line():
            result = load_dataset(
                dataset,
                warehouse.storage(),
                context.partition_key,
                context.run.run_id,
                allow_shrink=warehouse.shrink_allowed(),
            )
        return dg.MaterializeResult(
            metadata={
                **landed_metadata(result.rows, result.columns, context.partition_key, result.quarantined),
                "table": dataset.table,
                "warehouse_lock_wait_seconds": result.lock_wait_seconds,
            },
            check_results=warehouse_checks(dataset, result),
        )

    return _warehouse


def dataset_assets(datasets: list[Dataset]) -> list[dg.AssetsDefinition]:
    """Both assets of every dataset, in order."""
    return [build(d) for d in datasets for build in (lake_asset, warehouse_asset)]
