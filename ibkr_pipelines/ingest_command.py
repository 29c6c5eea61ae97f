"""``ibkr-pipelines ingest``: the nightly job, in-process through Dagster, on the persistent instance."""

from __future__ import annotations

import datetime
import logging
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ibkr_pipelines.config import Settings
from ibkr_pipelines.datasets import DATASETS, Dataset
from ibkr_pipelines.errors import ConfigError

PROGRESS_LOGGER = "ibkr_pipelines.progress"
QUIET_DAGSTER = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to ./dagster_home so runs show in `make dev` afterwards."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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


def run_ingest(as_of: datetime.date, select: str | None) -> int:
    """Run the nightly job for ``as_of`` and print what landed; 0 when every step succeeded."""
    settings = Settings.from_env()
    datasets = selected_datasets(select)
    home = _dagster_home()
    _progress_to_terminal()

    import dagster as dg

    from assets.definitions import nightly_ingestion_job
    from assets.factory import lake_key, warehouse_key
    from ibkr_pipelines.connection import sharing_simulator, start_embedded_simulator

    selection = [key for d in datasets for key in (lake_key(d.table), warehouse_key(d.table))]
    print(f"ibkr-pipelines ingest {as_of} -> {settings.db_path} (Dagster home {home})", file=sys.stderr)
    started = time.monotonic()
    with ExitStack() as stack:
        simulator = None
        if settings.uses_simulator:
            simulator = start_embedded_simulator(settings, as_of)
            stack.callback(simulator.stop)
            stack.enter_context(sharing_simulator(simulator))
        job = nightly_ingestion_job()
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance,
                partition_key=as_of.isoformat(),
                asset_selection=selection,
                run_config=QUIET_DAGSTER,
                raise_on_error=False,
                tags={"launched_by": "ibkr-pipelines ingest"},
            )
        sim_stats = simulator.stats() if simulator is not None else None
    elapsed = time.monotonic() - started
    _print_summary(result, datasets, settings, as_of, sim_stats, elapsed)
    return 0 if result.success else 1


def _materializations(result: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        found["/".join(materialization.asset_key.path)] = {
            k: getattr(v, "value", v) for k, v in materialization.metadata.items()
        }
    return found


def _endpoint_traffic(done: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per-endpoint IBKR counters summed over every extraction step of the run."""
    traffic: dict[str, dict[str, float]] = {}
    for metadata in done.values():
        for endpoint, counters in (metadata.get("ibkr_endpoints") or {}).items():
            entry = traffic.setdefault(endpoint, {})
            for name, value in counters.items():
                entry[name] = entry.get(name, 0) + value
    for entry in traffic.values():
        for name in ("requests", "retries", "wait_seconds", "throttled", "bytes"):
            entry.setdefault(name, 0)
    return traffic


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], *, title: str) -> None:
    """A plain aligned text table (no dependency needed for a few lines)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(title)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
    print()


def _print_summary(
    result: Any,
    datasets: list[Dataset],
    settings: Settings,
    as_of: datetime.date,
    sim_stats: dict[str, Any] | None,
    elapsed: float,
) -> None:
    done = _materializations(result)
    rows = []
    for dataset in datasets:
        lake = done.get(f"lake/{dataset.table}", {})
        loaded = done.get(f"warehouse/{dataset.table}", {})
        rows.append(
            (
                dataset.table,
                str(loaded.get("dagster/row_count", "FAILED")),
                str(lake.get("quarantined_rows", "-")),
                str(lake.get("ibkr_requests", "-")),
                str(lake.get("ibkr_429s", "-")),
            )
        )
    print()
    _print_table(
        ("table", "rows landed", "quarantined", "IBKR requests", "429s"),
        rows,
        title=f"Landed for {as_of} in {settings.db_path} ({elapsed:.1f} s):",
    )
    endpoints = _endpoint_traffic(done)
    _print_table(
        ("endpoint", "requests", "retries", "wait s", "429s", "KiB"),
        [
            (name, str(int(c["requests"])), str(int(c["retries"])), f"{c['wait_seconds']:.1f}",
             str(int(c["throttled"])), f"{c['bytes'] / 1024:.0f}")
            for name, c in sorted(endpoints.items())
        ],
        title="IBKR traffic by endpoint:",
    )
    totals = {k: sum(c[k] for c in endpoints.values()) for k in ("requests", "retries", "throttled", "wait_seconds")}
    print(
        f"IBKR traffic: {int(totals['requests'])} requests, {int(totals['retries'])} retries, "
        f"{int(totals['throttled'])} answered 429, {totals['wait_seconds']:.1f} s spent pacing"
    )
    penalties = [p for m in done.values() for p in (m.get("ibkr_penalties") or [])]
    for penalty in penalties:
        print(f"IBKR pacing penalty: {penalty}")
    if sim_stats is not None:
        print(
            f"Embedded simulator: saw {sim_stats['total_requests']} requests, "
            f"answered {sim_stats['total_throttled']} with 429"
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                print(f"FAILED {event.step_key}: {error.message.strip() if error else 'unknown error'}", file=sys.stderr)
    print("Query it: ibkr-pipelines sql \"select * from nav_by_account\"")
