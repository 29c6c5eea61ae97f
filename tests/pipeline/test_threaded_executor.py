"""The threaded executor `ibkr-pipelines ingest` runs the night with: steps overlap, order and pools hold.

It is built on Dagster's internal plan loop; these tests are what fails if a Dagster upgrade moves it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest

from tests.pipeline import threaded_jobs


def _instance(tmp_path: Path, **overrides: object) -> dg.DagsterInstance:
    return dg.DagsterInstance.local_temp(str(tmp_path), overrides=overrides or None)


def _step_outcomes(result: dg.ExecutionResult) -> dict[str, str]:
    outcomes = {}
    for event in result.all_events:
        if event.is_step_success:
            outcomes[event.step_key] = "success"
        elif event.is_step_failure:
            outcomes[event.step_key] = "failure"
        elif event.is_step_skipped:
            outcomes[event.step_key] = "skipped"
    return outcomes


def test_independent_steps_run_at_once_and_downstream_waits(tmp_path: Path) -> None:
    with _instance(tmp_path) as instance:
        result = dg.execute_job(dg.reconstructable(threaded_jobs.meeting_job), instance=instance,
                                run_config={"execution": {"config": {"max_concurrent": 4}}})
        outcomes = _step_outcomes(result)
    # left and right met at the barrier (one at a time, both would time out and fail); after_broken
    # never starts, as with Dagster's own executors (no event at all for it)
    assert outcomes == {"left": "success", "right": "success", "both": "success", "broken": "failure"}
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"left", "right", "both"}


def test_a_pool_of_one_keeps_its_steps_apart(tmp_path: Path) -> None:
    threaded_jobs.WRITES.clear()
    with _instance(tmp_path, concurrency={"pools": {"default_limit": 1}}) as instance:
        result = dg.execute_job(dg.reconstructable(threaded_jobs.writers_job), instance=instance,
                                run_config={"execution": {"config": {"max_concurrent": 3}}})
    assert result.success
    spans = sorted((start, end) for _, start, end in threaded_jobs.WRITES)
    assert len(spans) == 3
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans


def test_a_slot_this_run_frees_is_claimed_at_the_next_look_not_after_the_back_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.execution.plan import instance_concurrency_context
    from dagster._core.storage.dagster_run import DagsterRun

    from assets.threaded_executor import _PromptConcurrencyContext

    # Dagster's back-off clock stands still, so only freeing a slot of this run can make a claim due.
    clock = SimpleNamespace(time=lambda: 1_000_000.0)
    monkeypatch.setattr(instance_concurrency_context, "time", clock)
    with _instance(tmp_path, concurrency={"pools": {"default_limit": 1}}) as instance:
        run = DagsterRun(job_name="writers", run_id="0123456789abcdef0123456789abcdef")
        with _PromptConcurrencyContext(instance, run) as pools:
            assert pools.claim("duckdb_writer", "first")
            assert not pools.claim("duckdb_writer", "second")  # blocked: Dagster backs it off (1 s at first)
            assert not pools.claim("duckdb_writer", "third")
            assert not pools.claim("duckdb_writer", "second"), "inside Dagster's back-off"
            pools.free_step("never-claimed")  # a step that held no slot frees none: nothing is made due
            assert not pools.claim("duckdb_writer", "second")
            # Past the back-off, a waiting step still does not ask the storage while this run holds the slot.
            asked = []
            storage = instance.event_log_storage
            monkeypatch.setattr(storage, "claim_concurrency_slot",
                                lambda *a, _real=storage.claim_concurrency_slot, **k: asked.append(a) or _real(*a, **k))
            clock.time = lambda: 1_000_100.0
            assert not pools.claim("duckdb_writer", "second") and asked == []
            pools.free_step("first")  # what Dagster does when the step's success event comes in
            # The storage gave the slot to one of them (enqueue times tie within a second): it alone asks now.
            claimed = [step for step in ("second", "third") if pools.claim("duckdb_writer", step)]
            assert len(claimed) == 1, claimed
            pools.free_step(claimed[0])
            (last,) = {"second", "third"} - set(claimed)
            assert pools.claim("duckdb_writer", last)
