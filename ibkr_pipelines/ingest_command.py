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
from ibkr_pipelines.datasets import DATASETS, Dataset
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.ingest_summary import print_summary
from ibkr_pipelines.processes import process_identity
from ibkr_pipelines.trading_calendar import describe_window, partition_window, trading_date

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


def selected_datasets(select: str | None) -> list[Dataset]:
    """The datasets named in ``--select`` plus the upstream ones they read; all when empty."""
    if not select:
        return list(DATASETS.values())
    names = [n.strip() for n in select.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ConfigError("--select", f"unknown table(s) {unknown}; choose from {', '.join(DATASETS)}")
    wanted: list[str] = []
    for name in names:
        for upstream in DATASETS[name].upstream:
            if upstream not in wanted:
                wanted.append(upstream)
        if name not in wanted:
            wanted.append(name)
    return [DATASETS[n] for n in wanted]


def _progress_to_terminal() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    progress = logging.getLogger(PROGRESS_LOGGER)
    progress.setLevel(logging.INFO)
    progress.addHandler(handler)
    progress.propagate = False


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_ingest(requested: datetime.date | None, select: str | None, *, allow_shrink: bool = False) -> int:
    """Run the nightly job for one partition and print what landed; 0 when every step succeeded."""
    settings = Settings.from_env()
    as_of = resolve_partition_date(requested)
    datasets = selected_datasets(select)
    home = _dagster_home()
    _progress_to_terminal()

    import dagster as dg

    from assets.definitions import nightly_ingestion_job
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

    selection = [key for d in datasets for key in (lake_key(d.table), warehouse_key(d.table))]
    run_config: dict[str, Any] = dict(QUIET_DAGSTER)
    if allow_shrink:
        run_config["resources"] = {"warehouse": {"config": {"allow_shrink": True}}}
    run_id = str(uuid.uuid4())
    _say(f"ibkr-pipelines ingest {as_of} -> {settings.db_path} (Dagster home {home}, run {run_id})")
    started = time.monotonic()
    with ExitStack() as stack:
        simulator = None
        if settings.uses_simulator:
            simulator = start_embedded_simulator(settings, as_of)
            stack.callback(simulator.stop)
            stack.enter_context(sharing_simulator(simulator))
        job = nightly_ingestion_job()
        instance = stack.enter_context(dg.DagsterInstance.get())

        def execute() -> Any:
            return job.execute_in_process(
                instance=instance,
                partition_key=as_of.isoformat(),
                asset_selection=selection,
                run_config=run_config,
                raise_on_error=False,
                run_id=run_id,
                tags={"launched_by": "ibkr-pipelines ingest", WORKER_TAG: process_identity()},
            )

        try:
            with interrupts_raised():
                for reaped in reap_dead_runs(instance):
                    _say(f"  run {reaped} had lost its process (killed?): marked failed, its pool slots freed")
                wait_for_pool(instance, DUCKDB_POOL, _say)
                result = run_in_thread(execute)
        except Interrupted as stop:
            stop_run(instance, run_id, f"stopped by {stop} (ibkr-pipelines ingest)")
            _say(f"stopped by {stop}: run {run_id} canceled; what already landed stays, re-run to finish {as_of}")
            exit_now(stop.signum)
        sim_stats = simulator.stats() if simulator is not None else None
    print_summary(result, datasets, settings, as_of, sim_stats, time.monotonic() - started)
    return 0 if result.success else 1
