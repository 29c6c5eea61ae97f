"""``ibkr-pipelines ingest``: the nightly job, in-process through Dagster, on the persistent instance.

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

    from assets.definitions import every_asset_job, nightly_ingestion_job
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

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
        partition: dict[str, Any] = {"partition_key": as_of.isoformat()}
    else:
        partition = {"tags": {ASSET_PARTITION_RANGE_START_TAG: str(window.start), ASSET_PARTITION_RANGE_END_TAG: str(window.end)}}
    run_config: dict[str, Any] = dict(QUIET_DAGSTER)
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
        job = nightly_ingestion_job() if set(tables) <= set(nightly_tables()) else every_asset_job()
        instance = stack.enter_context(dg.DagsterInstance.get())

        def execute() -> Any:
            return job.execute_in_process(
                instance=instance,
                asset_selection=selection,
                run_config=run_config,
                raise_on_error=False,
                run_id=run_id,
                **{**partition, "tags": {**partition.get("tags", {}), "launched_by": "ibkr-pipelines ingest",
                                         WORKER_TAG: process_identity()}},
            )

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
