"""``ibkr-pipelines ingest``: the nightly job through Dagster in this process (steps in threads), on the persistent instance.

The terminal gets progress lines, a table of what landed and, for each dataset that did not land, one
line saying why; Dagster's own logs and stack traces stay in the run's event log (the UI shows them).
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.ingest_summary import print_summary
from ibkr_pipelines.processes import process_identity
from ibkr_pipelines.sources import SOURCES, nightly_tables, source_of
from ibkr_pipelines.trading_calendar import describe_window, partition_window, trading_date
from ibkr_pipelines.windows import DateWindow

PROGRESS_LOGGER = "ibkr_pipelines.progress"
# Dagster's console logger prints every event and stack trace; the run's event log keeps them all.
QUIET_DAGSTER = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# Threads for the run's steps: every step of the night at once. Threads cost little, the steps wait on
# IBKR's separate per-endpoint limits (trades 1 per 5 s per account: the night's longest step), and
# the shared pacer, not the number of steps, keeps every limit. DuckDB loads stay one at a time (pool).
INGEST_THREADS = 16


def _dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to ./dagster_home so runs show in `make dev` afterwards."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def resolve_partition_date(requested: datetime.date | None, now: datetime.datetime | None = None) -> datetime.date:
    """The partition to ingest: ``requested``, or today's trading date; one line when it is not a partition."""
    if requested is None:
        return trading_date(now)
    first, last = partition_window(now)
    if not first <= requested <= last:
        raise ConfigError("--date", f"{requested} is not a partition; choose a date {describe_window(now)}")
    return requested


def resolve_window(
    requested: datetime.date | None,
    start: datetime.date | None,
    end: datetime.date | None,
    now: datetime.datetime | None = None,
) -> DateWindow:
    """The window to ingest: ``--from``/``--to`` (a backfill, one run), else ``--date`` or today."""
    window = DateWindow.from_flags(start, end)
    if window is None:
        return DateWindow.of(resolve_partition_date(requested, now))
    if requested is not None:
        raise ConfigError("--date", "give either --date or --from/--to, not both")
    for flag, day in (("--from", window.start), ("--to", window.end)):
        try:
            resolve_partition_date(day, now)
        except ConfigError as exc:
            raise ConfigError(flag, str(exc).removeprefix("--date: ")) from None
    return window


def selected_tables(select: str | None) -> list[str]:
    """The tables named in ``--select`` plus the upstream ones they read, in landing order; all nightly ones when empty.

    A targeted table outside the night (pa_transactions) is landed only when named here.
    """
    if not select:
        return nightly_tables()
    every = [t for s in SOURCES.values() for t in s.tables]
    names = [n.strip() for n in select.split(",") if n.strip()]
    unknown = [n for n in names if n not in every]
    if unknown:
        raise ConfigError("--select", f"unknown table(s) {unknown}; choose from {', '.join(every)}")
    wanted: set[str] = set()

    def want(table: str) -> None:
        source = source_of(table)
        for upstream in source.upstream:
            want(upstream)
        wanted.update(source.tables)

    for name in names:
        want(name)
    return [t for t in every if t in wanted]


def steps_at_once(settings: Settings, window: DateWindow) -> int:
    """How many of the run's steps run at once: all of them, except over a range on the embedded simulator.

    The embedded simulator has one clock, and a range's per-date steps move it date by date; steps
    side by side would read each other's dates. One date (the night) sets it once for every step.
    """
    return 1 if settings.uses_simulator and len(window) > 1 else INGEST_THREADS


def _progress_to_terminal() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.setLevel(logging.INFO)
    progress.addHandler(handler)
    progress.propagate = False


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_ingest(
    requested: datetime.date | None,
    select: str | None,
    *,
    allow_shrink: bool = False,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> int:
    """Run the nightly job for one partition (or one window, as one run) and print what landed; 0 on success."""
    settings = Settings.from_env()
    window = resolve_window(requested, start, end)
    as_of = window.end
    tables = selected_tables(select)
    home = _dagster_home()
    _progress_to_terminal()

    import dagster as dg

    from dagster._core.execution.api import execute_run
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
        PARTITION_NAME_TAG,
    )

    from assets import definitions

    from assets.factory import DUCKDB_POOL, lake_key, warehouse_key
    from ibkr_pipelines.connection import sharing_simulator, start_embedded_simulator
    from ibkr_pipelines.run_control import (
        WORKER_TAG,
        Interrupted,
        exit_now,
        interrupts_raised,
        reap_dead_runs,
        run_in_thread,
        stop_run,
        wait_for_pool,
    )

    selection = [key for t in tables for key in (lake_key(t), warehouse_key(t))]
    if len(window) == 1:
        partition_tags = {PARTITION_NAME_TAG: as_of.isoformat()}
    else:
        partition_tags = {ASSET_PARTITION_RANGE_START_TAG: str(window.start), ASSET_PARTITION_RANGE_END_TAG: str(window.end)}
    run_config: dict[str, Any] = dict(QUIET_DAGSTER)
    run_config["execution"] = {"config": {"max_concurrent": steps_at_once(settings, window)}}
    if allow_shrink:
        run_config["resources"] = {"warehouse": {"config": {"allow_shrink": True}}}
    run_id = str(uuid.uuid4())
    _say(f"ibkr-pipelines ingest {window} -> {settings.db_path} (Dagster home {home}, run {run_id})")
    started = time.monotonic()
    with ExitStack() as stack:
        simulator = None
        if settings.uses_simulator:
            simulator = start_embedded_simulator(settings, as_of)
            stack.callback(simulator.stop)
            stack.enter_context(sharing_simulator(simulator))
        nightly = set(tables) <= set(nightly_tables())
        job = dg.reconstructable(
            definitions.nightly_ingestion_in_threads if nightly else definitions.targeted_ingestion_job
        )
        instance = stack.enter_context(dg.DagsterInstance.get())

        def execute() -> Any:
            run = instance.create_run_for_job(
                job_def=job.get_definition(),
                run_id=run_id,
                run_config=run_config,
                tags={**partition_tags, "launched_by": "ibkr-pipelines ingest", WORKER_TAG: process_identity()},
                asset_selection=frozenset(selection),
                job_code_origin=job.get_python_origin(),
            )
            return execute_run(job, run, instance, raise_on_error=False)

        try:
            with interrupts_raised():
                for reaped in reap_dead_runs(instance):
                    _say(f"  run {reaped} had lost its process (killed?): marked failed, its pool slots freed")
                wait_for_pool(instance, DUCKDB_POOL, _say)
                result = run_in_thread(execute)
        except Interrupted as stop:
            stop_run(instance, run_id, f"stopped by {stop} (ibkr-pipelines ingest)")
            _say(f"stopped by {stop}: run {run_id} canceled; what already landed stays, re-run to finish {window}")
            exit_now(stop.signum)
        sim_stats = simulator.stats() if simulator is not None else None
    print_summary(result, tables, settings, window, sim_stats, time.monotonic() - started)
    return 0 if result.success else 1
