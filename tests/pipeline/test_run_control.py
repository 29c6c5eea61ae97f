"""Runs and steps whose process is gone give their pool slots back; live ones keep them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from ibkr_pipelines.processes import process_gone, process_identity
from ibkr_pipelines.run_control import STEP_TAG_PREFIX, WORKER_TAG, reap_dead_runs, slot_holders

POOL = "duckdb_writer"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A persistent-storage instance with the project's pools (one DuckDB writer)."""
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides={"concurrency": {"pools": {"default_limit": 1}}}) as inst:
        inst.event_log_storage.set_concurrency_slots(POOL, 1)
        yield inst


def _dead_identity() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    identity = process_identity(proc.pid)
    proc.kill()
    proc.wait()
    return identity


def _started_run(instance: dg.DagsterInstance, tags: dict[str, str], step: str) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(DagsterRun(job_name="nightly_ingestion", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags))
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run_id, step)
    assert claim.is_claimed
    return run_id


def test_a_run_whose_process_died_is_failed_and_its_slot_freed(instance: dg.DagsterInstance) -> None:
    run_id = _started_run(instance, {WORKER_TAG: _dead_identity()}, "warehouse__positions")
    assert reap_dead_runs(instance) == [run_id]
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    assert slot_holders(instance, POOL) == []


def test_a_step_whose_process_died_gives_its_slot_back(instance: dg.DagsterInstance) -> None:
    step = "warehouse__positions"
    run_id = _started_run(instance, {f"{STEP_TAG_PREFIX}{step}": _dead_identity()}, step)
    assert reap_dead_runs(instance) == []
    assert slot_holders(instance, POOL) == []
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED, "its run worker may live on"


def test_a_slot_claimed_while_the_run_was_being_stopped_is_freed(instance: dg.DagsterInstance) -> None:
    # Ctrl-C/SIGTERM: stop_run cancels the run and frees its slots while a step thread is claiming one.
    # The claim can land after the free removed the run's pending steps: a claimed slot that Dagster's
    # list of runs with pending steps no longer shows (seen in CI as a re-run waiting for ever).
    run_id = _started_run(instance, {WORKER_TAG: process_identity()}, "warehouse__positions")
    instance.event_log_storage._remove_pending_steps(run_id=run_id)  # the claim that raced the free
    instance.report_run_canceled(instance.get_run_by_id(run_id), "stopped")
    assert run_id not in instance.event_log_storage.get_concurrency_run_ids()
    assert slot_holders(instance, POOL) == [run_id]
    reap_dead_runs(instance)
    assert slot_holders(instance, POOL) == []


def test_live_runs_and_runs_of_other_hosts_keep_their_slots(instance: dg.DagsterInstance) -> None:
    live = _started_run(instance, {WORKER_TAG: process_identity()}, "warehouse__positions")
    assert reap_dead_runs(instance) == []
    assert slot_holders(instance, POOL) == [live]
    instance.event_log_storage.free_concurrency_slots_for_run(live)
    elsewhere = _started_run(instance, {WORKER_TAG: "another-host|12345|999"}, "warehouse__ledger")
    assert reap_dead_runs(instance) == []
    assert slot_holders(instance, POOL) == [elsewhere]


def test_a_reused_pid_is_not_taken_for_the_dead_process() -> None:
    host, _pid, started = _dead_identity().split("|")
    impostor = f"{host}|{os.getpid()}|{started}"  # a live pid, but not the process that started then
    assert process_gone(impostor)
    assert not process_gone(process_identity())
