"""Runs on the Dagster instance that outlive their process, and runs that must stop when asked.

A run killed with ``kill -9`` stays STARTED for ever and keeps its ``duckdb_writer`` pool slot, so
every later run would wait for the slot without end. Each run started by ``ibkr-pipelines`` carries
the identity of its process (host, pid and the process's start time, so a reused pid is not taken
for the dead one); ``reap_dead_runs`` marks the runs whose process is gone as failed and frees their
slots. ``run_in_thread`` runs a job on a worker thread so that Ctrl-C and SIGTERM always reach the
command (``interrupts_raised``): the run is then marked canceled, its slots freed, and the process
exits at once (an open DuckDB transaction is rolled back by DuckDB, lake files are replaced atomically).

This module bridges to Dagster (like ``ingest_command``); the library below it never imports Dagster.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import dagster as dg

from ibkr_pipelines.processes import process_gone, process_identity

log = logging.getLogger(__name__)

WORKER_TAG = "ibkr_pipelines/worker"
# Per step that holds a pool slot: the process running it (a UI run runs each step in its own process).
STEP_TAG_PREFIX = "ibkr_pipelines/step/"
_UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark unfinished runs whose process is gone as failed and free every pool slot they hold."""
    reaped = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=_UNFINISHED)):
        run = record.dagster_run
        identity = run.tags.get(WORKER_TAG)
        if identity is None or not process_gone(identity):
            continue
        instance.report_run_failed(run, f"its process ({identity}) ended without finishing the run (killed?)")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    if instance.event_log_storage.supports_global_concurrency_limits:
        for run_id in _slot_run_ids(instance):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                # Still held by a run that finished: a crash between its end and freeing its slots.
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
                continue
            for tag, identity in run.tags.items():
                if tag.startswith(STEP_TAG_PREFIX) and process_gone(identity):
                    # The step's own process died holding the slot (a UI run's step killed mid-load).
                    instance.event_log_storage.free_concurrency_slot_for_step(run_id, tag[len(STEP_TAG_PREFIX):])
    return reaped


def _slot_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """Every run with a pending step or a claimed slot in any pool.

    Dagster lists only runs with pending steps; a claim racing ``stop_run`` (a step thread claiming
    while the command frees the run's slots) leaves a claimed slot without one, held for ever.
    """
    storage = instance.event_log_storage
    found = set(storage.get_concurrency_run_ids())
    for pool in storage.get_concurrency_keys():
        found.update(slot.run_id for slot in storage.get_concurrency_info(pool).claimed_slots if slot.run_id)
    return found


def mark_step_process(instance: dg.DagsterInstance, run_id: str, step_key: str) -> None:
    """Record which process runs a step that holds a pool slot, so the slot can be freed if it dies."""
    instance.add_run_tags(run_id, {f"{STEP_TAG_PREFIX}{step_key}": process_identity()})


def slot_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """The run ids holding a slot of ``pool`` now (for a "waiting for ..." line)."""
    if not instance.event_log_storage.supports_global_concurrency_limits:
        return []
    info = instance.event_log_storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots})


class Interrupted(Exception):
    """The command received SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(signum)


@contextmanager
def interrupts_raised() -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM raise ``Interrupted`` in the main thread."""
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_now(signum: int) -> None:
    """Leave the process at once with the shell's code for the signal (130 for Ctrl-C, 143 for SIGTERM).

    Used after the run was marked canceled: threads still inside a step die with the process, which
    DuckDB and the lake's atomic renames survive as they survive ``kill -9``.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


def stop_run(instance: dg.DagsterInstance, run_id: str, reason: str) -> None:
    """Mark an unfinished run canceled and free its pool slots (called when the command is stopped)."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, reason)
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def wait_for_pool(instance: dg.DagsterInstance, pool: str, say: Callable[[str], None], poll: float = 2.0) -> None:
    """Wait (interruptibly, without spinning) until no live run holds a slot of ``pool``.

    Dagster would wait too, but its wait spins a core and ignores Ctrl-C; a run that starts after
    this check can still win the slot, and then Dagster's own wait takes over.
    """
    announced: set[str] = set()
    while True:
        reap_dead_runs(instance)
        holders = slot_holders(instance, pool)
        if not holders:
            return
        for holder in set(holders) - announced:
            say(f"  the {pool} slot is held by run {holder}: waiting for it (Ctrl-C stops)")
        announced.update(holders)
        time.sleep(poll)


@dataclass
class _Outcome:
    result: Any = None
    error: BaseException | None = None


def run_in_thread(execute: Callable[[], Any]) -> Any:
    """Run ``execute()`` on a worker thread while the main thread stays free to take signals.

    Dagster leaves signal handling alone off the main thread, so inside ``interrupts_raised`` a
    Ctrl-C always reaches the command, even while a run waits on a pool slot.
    """
    outcome = _Outcome()

    def work() -> None:
        try:
            outcome.result = execute()
        except BaseException as exc:  # noqa: BLE001 - handed back to the main thread
            outcome.error = exc

    worker = threading.Thread(target=work, name="ibkr-run", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
    if outcome.error is not None:
        raise outcome.error
    return outcome.result
