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
# Step processes fork from a server that has imported this code location once (Dagster preloads the
# job's module), instead of each spawning a fresh interpreter that imports Dagster and the assets
# (~3 s of CPU per step). POSIX only, as the pacing store already is.
# The pool claims are the threaded executor's (assets/step_processes.py): no back-off between this run's loads.
STEP_PROCESSES = prompt_multiprocess_executor.configured(
    {"max_concurrent": STEPS_AT_ONCE, "start_method": {"forkserver": {}}}, name="step_processes"
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
