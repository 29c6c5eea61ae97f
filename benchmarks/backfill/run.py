"""``python -m benchmarks.backfill.run [--days 90] [--end 2026-11-20]``: a UI-style backfill, one JSON line.

It does what the Dagster UI does for a backfill of a range: ONE run of the nightly job over the
whole range (every asset has ``BackfillPolicy.single_run``), on a fresh instance configured like
``dagster_home/dagster.yaml`` (DuckDB writers pooled to one), with the multiprocess executor (each
step in its own process). No ``IBKR_BASE_URL``: each step process starts its own embedded
simulator enforcing IBKR's real limits, while all clients share one pacing store, as in production.

Printed: ``seconds`` (the run, first step start to last step end), ``pacing_floor_seconds`` (the
least time IBKR's limits allow for the requests the run made: per pacing scope, requests / rate, the
largest of them), ``writer_seconds`` (time spent inside DuckDB loads) and ``writer_step_seconds``
(the load steps' whole lives, process start-up included), ``requests``, ``throttled`` (429s the
clients received), and the bars: ``seconds <= 1.25 * pacing_floor_seconds + 60``, ``throttled == 0``.
Exit status 0 when both bars are met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# A fixed range inside the simulator's world, so every run backfills the same days.
DEFAULT_END = dt.date(2026, 11, 20)


def pacing_floor(endpoints: dict[str, dict[str, float]], overrides: str | None = None) -> tuple[float, str]:
    """Least seconds the gateway limits (IBKR's, or with ``overrides``) allow for these request counts, and the binding scope."""
    from ibkr_pipelines.client.limits import default_limits

    limits = default_limits("gateway").with_overrides(overrides)
    per_scope: dict[str, int] = {}
    for endpoint, counters in endpoints.items():
        method, _, template = endpoint.partition(" ")
        path = template.replace("{accountId}", "U1234567").replace("{n}", "0").replace("{conid}", "265598")
        for scope in limits.scopes_for(method, path):
            per_scope[scope.name] = per_scope.get(scope.name, 0) + int(counters.get("requests", 0))
    # n requests under "c per s seconds" need (ceil(n / c) - 1) * s at least: the first window is free.
    floors = {
        # A concurrency-only scope (history: 5 in flight) has no rate window: no floor of its own here.
        name: max(((math.ceil(count / w.count) - 1) * w.seconds for w in limits.scope(name).windows), default=0.0)
        for name, count in per_scope.items()
    }
    binding = max(floors, key=floors.__getitem__)
    return round(floors[binding], 1), binding


def _step_spans(instance: Any, run_id: str) -> dict[str, tuple[float, float]]:
    """Step key -> (start, end) wall times from the run's event log."""
    import dagster as dg

    spans: dict[str, list[float]] = {}
    for record in instance.get_records_for_run(run_id, limit=100_000).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            spans.setdefault(entry.step_key, [entry.timestamp, entry.timestamp])[0] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            spans.setdefault(entry.step_key, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
    return {k: (v[0], v[1]) for k, v in spans.items()}


def run(days: int, end: dt.date, workdir: Path, limits: str | None = None) -> dict[str, Any]:
    """Backfill ``days`` dates ending at ``end`` as one run (IBKR's limits, or ``limits`` on both sides); return the measurements."""
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    os.environ.update(
        DAGSTER_HOME=str(home),
        IBKR_DATA_DIR=str(workdir / "data"),
        IBKR_PACING_DIR=str(workdir / "pacing"),
    )
    for name in ("IBKR_BASE_URL", "IBKR_LIMITS", "IBKR_SIM_LIMITS"):
        os.environ.pop(name, None)  # IBKR's real limits, on both sides
    if limits:  # the same overrides for the client and the embedded simulator (its own setting)
        os.environ.update(IBKR_LIMITS=limits, IBKR_SIM_LIMITS=limits)

    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from assets import definitions

    start = end - dt.timedelta(days=days - 1)
    tags = {ASSET_PARTITION_RANGE_START_TAG: start.isoformat(), ASSET_PARTITION_RANGE_END_TAG: end.isoformat()}
    with dg.DagsterInstance.get() as instance:
        began = time.monotonic()
        result = dg.execute_job(dg.reconstructable(definitions.nightly_ingestion_job), instance=instance, tags=tags)
        wall = time.monotonic() - began
        spans = _step_spans(instance, result.run_id)
        endpoints: dict[str, dict[str, float]] = {}
        throttled, writer = 0, 0.0
        seen: set[str] = set()
        for event in result.get_asset_materialization_events():
            key = event.asset_key.to_user_string()
            if key in seen:  # a single-run backfill records one materialization per date of the range
                continue
            seen.add(key)
            metadata = {k: getattr(v, "value", v) for k, v in event.event_specific_data.materialization.metadata.items()}
            throttled += int(metadata.get("ibkr_429s", 0))
            writer += float(metadata.get("load_seconds", 0.0))
            for endpoint, counters in (metadata.get("ibkr_endpoints") or {}).items():
                entry = endpoints.setdefault(endpoint, {})
                for name, value in counters.items():
                    entry[name] = entry.get(name, 0) + value
        success = result.success
    floor, binding = pacing_floor(endpoints, limits)
    seconds = round(max(e for _, e in spans.values()) - min(s for s, _ in spans.values()), 1)
    writer_steps = round(sum(e - s for k, (s, e) in spans.items() if k.startswith("warehouse__")), 1)
    requests = int(sum(c.get("requests", 0) for c in endpoints.values()))
    bar = round(1.25 * floor + 60, 1)
    return {
        "benchmark": "backfill",
        "days": days,
        "limits": limits or "IBKR's gateway limits",
        "window": f"{start}..{end}",
        "success": success,
        "seconds": seconds,
        "pacing_floor_seconds": floor,
        "binding_scope": binding,
        "writer_seconds": round(writer, 1),
        "writer_step_seconds": writer_steps,
        "requests": requests,
        "throttled": throttled,
        "bar": {"seconds": bar, "throttled": 0},
        "passed": success and seconds <= bar and throttled == 0,
        "wall_seconds": round(wall, 1),
        "steps": {k: round(e - s, 1) for k, (s, e) in sorted(spans.items())},
        "endpoints": {k: int(c.get("requests", 0)) for k, c in sorted(endpoints.items())},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the backfill benchmark and print its JSON line; 0 when the bars are met."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backfill.run", description=main.__doc__)
    parser.add_argument("--days", type=int, default=90, help="dates in the backfill (default 90)")
    parser.add_argument("--end", type=dt.date.fromisoformat, default=DEFAULT_END, help="last date (default 2026-11-20)")
    parser.add_argument("--limits", help="pacing overrides for both sides, as in IBKR_LIMITS (default: IBKR's real limits)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ibkr-backfill-bench-") as workdir:
        measured = run(args.days, args.end, Path(workdir), args.limits)
    print(json.dumps(measured), flush=True)
    return 0 if measured["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
