"""The nightly ingestion job (its assets named explicitly) and its schedule."""

import dagster as dg

from assets.factory import lake_key, warehouse_key
from assets.partitions import TIMEZONE
from assets.step_processes import prompt_multiprocess_executor
from ibkr_pipelines.sources import nightly_tables
from ibkr_pipelines.trading_calendar import trading_date


def nightly_selection() -> dg.AssetSelection:
    """Both assets of every table fed by a nightly source (daily partitions; other partitionings stay out)."""
    tables = nightly_tables()
    return dg.AssetSelection.assets(*(key for t in tables for key in (lake_key(t), warehouse_key(t))))


# Extraction steps wait on IBKR's per-endpoint limits (trades and orders: 1 per 5 s, /portfolio/accounts
# likewise, /pa: 1 per 15 min), not on the CPU: several at once let those waits overlap. DuckDB
# writers stay one at a time (the duckdb_writer pool).
STEPS_AT_ONCE = 6
# Step processes fork from a server that has imported, once, what every step imports: this code
# location, the Dagster instance's SQLite storage, the charts and the embedded simulator. A step then
# starts in a fraction of a second instead of importing them afresh (~1.5 s of CPU per step, measured
# in the backfill benchmark). Named here because Dagster 1.13 preloads nothing by itself when the config
# says `forkserver: {}`: it reads the absent `preload_modules` as an empty list, not as "the job's
# module" its documentation promises. POSIX only, as the pacing store already is.
FORKSERVER_PRELOAD = [
    "assets.definitions",
    "dagster._core.storage.sqlite_storage",
    "altair",
    "ibkr_pipelines.report.render",
    "ibkr_pipelines.simulator",
    "upath",  # Dagster's IO manager paths
]
# The pool claims are the threaded executor's (assets/step_processes.py): no back-off between this run's loads.
STEP_PROCESSES = prompt_multiprocess_executor.configured(
    {"max_concurrent": STEPS_AT_ONCE, "start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}},
    name="step_processes",
)

nightly_ingestion = dg.define_asset_job(
    name="nightly_ingestion",
    selection=nightly_selection(),
    executor_def=STEP_PROCESSES,
    description="Every nightly IBKR dataset for one trading date: extract in parallel, then load DuckDB one writer at a time.",
)


@dg.schedule(
    cron_schedule="30 23 * * *",
    job=nightly_ingestion,
    execution_timezone=TIMEZONE,
    name="nightly_ingestion_schedule",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """23:30 US/Eastern, after the US close and before IBKR's ~01:00 ET /iserver reset: that evening's date."""
    day = trading_date(context.scheduled_execution_time).isoformat()
    return dg.RunRequest(run_key=day, partition_key=day)
