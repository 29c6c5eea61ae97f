"""Builds the assets of every source and table from their declarations; policy lives here once.

A source becomes one step materializing ``lake/<table>_parquet`` for each table it feeds (fetch,
validate, Parquet); each table becomes ``warehouse/<table>`` (one DuckDB transaction per window, in
the single-writer pool). Both take the run's partition window, so a backfill of a range is one run
(``BackfillPolicy.single_run``) that fetches range requests where the source allows and loads the
range in one transaction.
"""


import time
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import dagster as dg

from assets.partitions import DAILY
from assets.resources import IbkrResource, WarehouseResource
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.report import operator_charts
from ibkr_pipelines.run_control import mark_step_process
from ibkr_pipelines.schemas import Reach, spec_for
from ibkr_pipelines.sources import Source
from ibkr_pipelines.staging import LoadSummary, StageResult, load_table, stage_source
from ibkr_pipelines.windows import DateWindow

# BackfillPolicy is what makes a UI backfill one run per range; Dagster still labels the parameter beta.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` .* is currently in beta")

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
    """Asset key of a table's validated Parquet partitions (``lake/positions_parquet``: unique in the graph)."""
    return dg.AssetKey(["lake", f"{table}_parquet"])


def warehouse_key(table: str) -> dg.AssetKey:
    """Asset key of a dataset's DuckDB table."""
    return dg.AssetKey(["warehouse", table])


def table_schema(table: str) -> dg.TableSchema:
    """The Dagster column schema of ``table``, from its spec (types and one-line descriptions)."""
    spec = spec_for(table)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.dtype),
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in spec.columns
        ]
    )


def window_of(context: dg.AssetExecutionContext) -> DateWindow:
    """The dates this run serves: one partition, or the whole range of a single-run backfill."""
    keys = context.partition_key_range
    return DateWindow.from_keys(keys.start, keys.end)


def landed_metadata(table: str, rows: int, window: DateWindow, quarantined: int) -> dict[str, Any]:
    """The metadata both layers of a table report: row count, column schema, window, quarantined rows."""
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": table_schema(table),
        "partition": str(window),
        "quarantined_rows": quarantined,
    }


# Entries a range's materializations would each carry a copy of (pictures, per-date tables, the schema).
# The per-endpoint traffic (a few hundred bytes) stays: ingest's summary and the backfill benchmark read it there.
BULKY_METADATA = ("pacing_timeline", "rows_over_time", "rows_by_date", "quarantine_reasons", "dagster/column_schema")


def once_for_the_window(
    context: dg.AssetExecutionContext, key: dg.AssetKey, window: DateWindow, metadata: dict[str, Any]
) -> dict[str, Any]:
    """``metadata`` for the materializations of ``window``: whole for one date; for a range, its bulky
    entries go on ONE observation of the range's last date, which the materializations name.

    Dagster copies a range's metadata into every partition's materialization: a year's backfill wrote
    its ~100 KB of pictures 365 times per asset into the event log.
    """
    bulky = {name: value for name, value in metadata.items() if name in BULKY_METADATA}
    if window.start == window.end or not bulky:
        return metadata
    context.log_event(dg.AssetObservation(asset_key=key, partition=window.end.isoformat(), metadata=bulky))
    rest = {name: value for name, value in metadata.items() if name not in bulky}
    return {**rest, "range_details": f"{', '.join(bulky)}: once for {window}, on this asset's observation of {window.end}"}


def ibkr_metadata(traffic: dict[str, Any], wall_wait_seconds: float) -> dict[str, Any]:
    """Dagster metadata for the IBKR traffic of one step (waits as wall time, not summed over threads)."""
    totals = traffic["totals"]
    return {
        "ibkr_requests": int(totals["requests"]),
        "ibkr_retries": int(totals["retries"]),
        "ibkr_429s": int(totals["throttled"]),
        "ibkr_wait_seconds": wall_wait_seconds,
        "ibkr_bytes": int(totals["bytes"]),
        "ibkr_endpoints": dg.MetadataValue.json(traffic["endpoints"]),
        "ibkr_penalties": dg.MetadataValue.json(traffic["penalties"]),
    }


def stage_step(
    context: dg.AssetExecutionContext, source: Source, ibkr: IbkrResource, warehouse: WarehouseResource
) -> tuple[StageResult, dict[str, Any]]:
    """Stage ``source`` over the run's window, logging IBKR penalties as they happen; returns traffic metadata."""
    window = window_of(context)
    connection = ibkr.client()
    began = time.monotonic()

    def penalty_seen(penalty: dict[str, Any]) -> None:
        context.log.warning(f"IBKR pacing penalty while staging {source.name}: {penalty}")

    # The run's client is shared by steps running side by side: count only this step's traffic.
    with connection.client.stats.attributed() as stats:
        stats.penalty_listeners.append(penalty_seen)
        result = stage_source(
            source,
            connection.client,
            warehouse.storage(),
            window,
            ibkr.settings().account_ids,
            run_id=context.run.run_id,
            dates=connection,
            settings=ibkr.settings(),
        )
    metadata = ibkr_metadata(stats.as_dict(), stats.wall_wait_seconds(began))
    sends = list(stats.sends)
    if sends:  # a picture only when the step spoke to IBKR
        line = operator_charts.binding_line(connection.client.limits, (endpoint for _, endpoint in sends))
        metadata["pacing_timeline"] = dg.MetadataValue.md(
            operator_charts.pacing_timeline_markdown(sends, list(stats.penalties), line, began))
    return result, metadata


def source_asset(source: Source) -> dg.AssetsDefinition:
    """The extract -> validate -> Parquet step of one source: one lake asset per table it feeds."""
    specs = [
        dg.AssetSpec(
            key=lake_key(table),
            group_name=source.group,
            deps=[
                *(lake_key(t) for t in source.upstream),
                # What is held and watched: the night lands it first. Same dates (identity): a last-partition
                # mapping made a UI backfill of the range skip bars (the upstream's last date was never in it).
                *(lake_key(t) for t in source.reads_latest),
            ],
            description=f"{spec_for(table).description} Extracted from IBKR ({spec_for(table).source}), "
            "validated, written to the Parquet lake.",
            kinds={"parquet", "polars"},
            tags={"domain": source.group},
            metadata={"dagster/column_schema": table_schema(table)},
        )
        for table in source.tables
    ]

    @dg.multi_asset(
        name=f"stage_{source.name}",
        specs=specs,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=EXTRACT_RETRY,
        description=source.description,
    )
    def _stage(
        context: dg.AssetExecutionContext, ibkr: IbkrResource, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult]:
        with failing_in_one_line():
            result, traffic = stage_step(context, source, ibkr, warehouse)
        for table, staged in result.tables.items():
            if staged.quarantined:
                context.log.warning(f"{staged.quarantined} {table} row(s) quarantined: {staged.reasons}")
            yield dg.MaterializeResult(
                asset_key=lake_key(table),
                metadata=once_for_the_window(context, lake_key(table), window_of(context), {
                    **landed_metadata(table, staged.rows, window_of(context), staged.quarantined),
                    # A fetch spanning earlier days (executions: the last 7) lands more dates than the run's.
                    "dates_landed": str(result.window),
                    "rows_by_date": dg.MetadataValue.json(staged.rows_by_date),
                    "quarantine_reasons": dg.MetadataValue.json(staged.reasons),
                    "lake_path": dg.MetadataValue.path(str(staged.lake_paths[-1])),
                    # One fetch feeds every table of the source: its traffic is told once, on the first.
                    **({**traffic, "fetch_seconds": result.seconds} if table == source.tables[0] else {}),
                }),
            )

    return _stage


def warehouse_checks(table: str, result: LoadSummary) -> list[dg.AssetCheckResult]:
    """Checks on the loaded table: unique natural key, nothing quarantined, analyst columns complete."""
    spec = spec_for(table)
    checks = [
        dg.AssetCheckResult(
            check_name="natural_key_unique",
            passed=result.duplicate_keys == 0,
            metadata={"natural_key": ", ".join(spec.natural_key), "duplicate_keys": result.duplicate_keys},
        ),
        dg.AssetCheckResult(
            check_name="no_quarantined_rows",
            passed=result.quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_rows": result.quarantined, "partition": str(result.window)},
        ),
    ]
    if spec.analyst_columns:
        checks.append(
            dg.AssetCheckResult(
                check_name="analyst_columns_complete",
                passed=not any(result.missing_values.values()),
                metadata={"rows_missing_a_value": dg.MetadataValue.json(result.missing_values)},
            )
        )
    if spec.reach is Reach.RECENT:
        gaps = [str(gap) for gap in result.uncovered]
        checks.append(
            dg.AssetCheckResult(
                check_name="no_uncovered_dates",
                passed=not gaps,
                description=(f"{table} has no data for {', '.join(gaps)}: IBKR's Web API serves only the last "
                             f"{spec.reach_days} days, so these dates need a Flex statement backfill") if gaps else None,
                metadata={"uncovered_dates": dg.MetadataValue.json(gaps), "reach_days": spec.reach_days},
            )
        )
    return checks


def warehouse_check_specs(table: str) -> list[dg.AssetCheckSpec]:
    """The checks every warehouse table carries (from its spec)."""
    key, spec = warehouse_key(table), spec_for(table)
    specs = [
        dg.AssetCheckSpec("natural_key_unique", asset=key,
                          description=f"No two rows share the natural key ({', '.join(spec.natural_key)})."),
        dg.AssetCheckSpec("no_quarantined_rows", asset=key, description="Every extracted row passed validation."),
    ]
    if spec.analyst_columns:
        specs.append(dg.AssetCheckSpec("analyst_columns_complete", asset=key,
                                       description=f"Every landed row has {', '.join(spec.analyst_columns)}."))
    if spec.reach is Reach.RECENT:
        specs.append(dg.AssetCheckSpec(
            "no_uncovered_dates", asset=key,
            description=f"No date since the first landed one is missing: IBKR serves only the last {spec.reach_days} "
            "days, so a gap longer than that is lost to the Web API (the check names the dates)."))
    return specs


def warehouse_asset(table: str, group: str) -> dg.AssetsDefinition:
    """The DuckDB load asset of one table (single-writer pool, one transaction per window, idempotent)."""
    spec = spec_for(table)

    @dg.asset(
        key=warehouse_key(table),
        group_name=group,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[lake_key(table)],
        description=f"{spec.description} DuckDB table `{table}` ({spec.load.value.replace('_', ' ')} on "
        f"{', '.join(spec.natural_key)}).",
        kinds={"duckdb"},
        pool=DUCKDB_POOL,
        retry_policy=LOAD_RETRY,
        tags={"domain": group},
        metadata={"dagster/column_schema": table_schema(table), "dagster/table_name": table},
        check_specs=warehouse_check_specs(table),
    )
    def _warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        mark_step_process(context.instance, context.run.run_id, context.get_step_execution_context().step.key)
        window = window_of(context)
        with failing_in_one_line():
            result = load_table(table, warehouse.storage(), window, context.run.run_id,
                                allow_shrink=warehouse.shrink_allowed())
            with warehouse.storage().warehouse.connect(read_only=True) as con:
                loaded = operator_charts.rows_over_time(con, table)
        return dg.MaterializeResult(
            metadata=once_for_the_window(context, warehouse_key(table), window, {
                **landed_metadata(table, result.rows, window, result.quarantined),
                "rows_by_date": dg.MetadataValue.json(result.rows_by_date),
                "table": table,
                "load_seconds": result.seconds,
                "warehouse_lock_wait_seconds": result.lock_wait_seconds,
                "rows_over_time": dg.MetadataValue.md(operator_charts.rows_over_time_markdown(loaded, table)),
            }),
            check_results=warehouse_checks(table, result),
        )

    return _warehouse


def source_assets(sources: list[Source]) -> list[dg.AssetsDefinition]:
    """The staging step of every source and the warehouse asset of every table they feed, in order."""
    return [
        asset
        for source in sources
        for asset in (source_asset(source), *(warehouse_asset(t, source.group) for t in source.tables))
    ]
