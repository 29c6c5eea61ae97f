"""What ``ingest`` prints when a run ends: what landed, the IBKR traffic, and one line per dataset that did not land."""

from __future__ import annotations

import re
import sys
from typing import Any

from ibkr_pipelines.config import Settings
from ibkr_pipelines.sources import source_of
from ibkr_pipelines.windows import DateWindow

# Dagster wraps a step's exception; the message a user needs is the innermost one raised by the step.
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}
# Our own errors and the one-line dg.Failure they become: the text after "module.Class: " is the message.
_OURS = re.compile(r"^(ibkr_pipelines\.[\w.]+|dagster\._core\.definitions\.events\.Failure|Failure)$")


def _materializations(result: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        found["/".join(materialization.asset_key.path)] = {
            k: getattr(v, "value", v) for k, v in materialization.metadata.items()
        }
    return found


def failure_line(error: Any) -> str:
    """One line from a Dagster ``SerializableErrorInfo``: the step's own message, without class names for ours."""
    while error is not None and error.cls_name in _WRAPPERS and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    lines = (error.message or "").strip().splitlines()
    text = lines[0] if lines else error.cls_name
    prefix, sep, rest = text.partition(": ")
    if sep and _OURS.match(prefix):
        return rest
    return f"{text} (unexpected: the run's log in the Dagster UI has the traceback)"


def table_failures(result: Any, tables: list[str]) -> dict[str, str]:
    """Per table that did not land: why, in one line (its own failure, or the upstream one that stopped it)."""
    failed: dict[str, str] = {}
    run_failure = ""
    for event in result.all_events:
        if event.is_step_failure:
            failed[event.step_key] = failure_line(event.step_failure_data.error)
        elif event.is_run_failure and getattr(event.event_specific_data, "error", None) is not None:
            run_failure = failure_line(event.event_specific_data.error)
    done = _materializations(result)
    reasons: dict[str, str] = {}
    for table in tables:
        source = source_of(table)
        stage, warehouse = f"stage_{source.name}", f"warehouse__{table}"
        if warehouse in failed:
            reasons[table] = f"not loaded: {failed[warehouse]}"
        elif stage in failed:
            reasons[table] = failed[stage]
        elif f"warehouse/{table}" not in done:
            blocked = [t for t in source.upstream if t in reasons]
            if blocked:
                reasons[table] = f"skipped: {', '.join(blocked)} did not land"
            else:
                reasons[table] = f"the run failed: {run_failure}" if run_failure else "did not run"
    return reasons


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


def print_summary(
    result: Any,
    tables: list[str],
    settings: Settings,
    window: DateWindow,
    sim_stats: dict[str, Any] | None,
    elapsed: float,
) -> None:
    """Tables of what landed and what IBKR traffic it cost, then one stderr line per dataset that failed."""
    done = _materializations(result)
    failures = table_failures(result, tables)
    rows = []
    for table in tables:
        lake = done.get(f"lake/{table}_parquet", {})
        loaded = done.get(f"warehouse/{table}", {})
        rows.append(
            (
                table,
                str(loaded.get("dagster/row_count", "FAILED")),
                str(lake.get("quarantined_rows", "-")),
                str(lake.get("ibkr_requests", "-")),
                str(lake.get("ibkr_429s", "-")),
                f"{lake['fetch_seconds']:.1f}" if "fetch_seconds" in lake else "-",
            )
        )
    print()
    landed = len(tables) - len(failures)
    if landed == len(tables):
        title = f"Landed for {window} in {settings.db_path} ({elapsed:.1f} s):"
    elif landed:
        title = f"Landed {landed} of {len(tables)} datasets for {window} in {settings.db_path} ({elapsed:.1f} s):"
    else:
        title = f"Nothing landed for {window} ({elapsed:.1f} s); the warehouse is as it was:"
    # A source feeding several tables (nav_daily and returns_daily) tells its requests and time on the first.
    _print_table(("table", "rows landed", "quarantined", "IBKR requests", "429s", "fetch s"), rows, title=title)
    endpoints = _endpoint_traffic(done)
    if endpoints:
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
    for penalty in (p for m in done.values() for p in (m.get("ibkr_penalties") or [])):
        print(f"IBKR pacing penalty: {penalty}")
    if sim_stats is not None:
        print(
            f"Embedded simulator: saw {sim_stats['total_requests']} requests, "
            f"answered {sim_stats['total_throttled']} with 429"
        )
        am = sim_stats.get("account_management") or {}
        if am.get("requests"):  # Account Management is policed apart (10/s per endpoint, 600/min per master)
            print(f"Embedded simulator's Account Management: saw {sum(am['requests'].values())} requests, "
                  f"answered {am['throttled']} with 429, served {am['documents']} documents")
    if landed:
        print('Query it: ibkr-pipelines sql "select * from nav_by_account"')
    sys.stdout.flush()
    for table, reason in failures.items():
        print(f"FAILED {table}: {reason}", file=sys.stderr)
