"""The path UI-launched runs take: one process per step (each with its own embedded simulator),
DuckDB loads serialised by the duckdb_writer pool, on a persistent instance.

Three tables, not the night's twelve: each step process still builds its own simulator world and
the loads queue one at a time. Every table through this executor
is the backfill harness's test (tests/benchmarks/test_backfill_harness.py), over two dates.
"""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from multiprocessing import forkserver
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.definitions import nightly_ingestion_job
from assets.factory import lake_key, warehouse_key
from assets.schedules import FORKSERVER_PRELOAD
from tests.fast_limits import FAST_LIMITS, WATCHLIST

ROOT = Path(__file__).resolve().parents[2]
# What nav_by_account reads (ledger, positions), and the contracts positions name.
TABLES = ("ledger", "positions", "contracts")


@pytest.mark.slow
def test_a_multiprocess_run_lands_its_tables_one_writer_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for name in [k for k in os.environ if k.startswith("IBKR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("IBKR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
    monkeypatch.setenv("IBKR_LIMITS", FAST_LIMITS)
    monkeypatch.setenv("IBKR_WATCHLIST", WATCHLIST)
    monkeypatch.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(nightly_ingestion_job), instance=instance, tags={"dagster/partition": "2026-11-20"},
            asset_selection=[key for t in TABLES for key in (lake_key(t), warehouse_key(t))],
        )
        assert result.success
        assert len(result.get_asset_materialization_events()) == 2 * len(TABLES)
        # The run's step processes forked from a server told to import the code location first
        # (Dagster's own default, with `forkserver: {}`, preloads nothing of ours).
        assert set(FORKSERVER_PRELOAD) <= set(forkserver._forkserver._preload_modules)  # type: ignore[attr-defined]
        load_steps = {"__".join(warehouse_key(t).path) for t in TABLES}
        loads = [  # the event log's order
            (record.dagster_event.event_type_value, record.step_key)
            for record in instance.all_logs(result.run_id)
            if record.dagster_event and record.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS")
            and record.step_key in load_steps
        ]
    # one writer at a time: each load step ends before the next one starts
    assert [kind for kind, _ in loads] == ["STEP_START", "STEP_SUCCESS"] * len(TABLES), loads
    with duckdb.connect(str(tmp_path / "data" / "ibkr.duckdb"), read_only=True) as con:
        for table in TABLES:
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        differences = con.execute("select max(abs(difference)) from nav_by_account").fetchone()[0]
    assert differences < 0.01


def test_step_processes_claim_through_the_prompt_context_while_their_run_executes() -> None:
    from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
    from dagster._core.executor import multiprocess

    from assets.step_processes import PromptStepProcesses
    from assets.threaded_executor import _PromptConcurrencyContext

    seen = []

    class Inner:
        """Stands in for Dagster's multiprocess executor: notes the claim context its loop would build."""

        def execute(self, plan_context: object, execution_plan: object) -> Iterator[str]:
            seen.append(multiprocess.InstanceConcurrencyContext)
            yield "an event"

    events = list(PromptStepProcesses(Inner()).execute(None, None))  # type: ignore[arg-type]
    assert events == ["an event"] and seen == [_PromptConcurrencyContext]
    assert multiprocess.InstanceConcurrencyContext is InstanceConcurrencyContext, "Dagster's own, once the run ended"


def test_every_module_the_step_forkserver_preloads_imports() -> None:
    # The forkserver skips a module that fails to import, silently: a typo here would only make each step slower.
    for name in FORKSERVER_PRELOAD:
        importlib.import_module(name)
    assert "assets.definitions" in FORKSERVER_PRELOAD, "the code location itself"
