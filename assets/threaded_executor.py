"""A Dagster executor that runs a run's steps side by side in threads of one process (``ibkr-pipelines ingest``).

Why: extraction steps wait on IBKR's per-endpoint limits (trades 1 per 5 s per account, history 5 in
flight), not on the CPU, so the night's steps should overlap. Dagster's in-process executor runs one
step after another, and its multiprocess executor gives every step its own process, so the embedded
simulator (one world, one clock, one set of limits) cannot be shared with the client. Threads share
it, and the whole run stays one process that Ctrl-C and the dead-run reaper understand.

Dagster has no threaded executor, so this one follows the loop of Dagster's own executors
(``dagster._core.executor.multiprocess`` and ``execute_plan``), with a thread where they fork a
process: the orchestrating thread alone touches the plan's state (``ActiveExecution``); each step's
events come back through a queue. Concurrency pools (the ``duckdb_writer`` slot) and skipping after
an upstream failure are Dagster's, unchanged. Built against Dagster 1.13's internal modules:
``tests/pipeline/test_threaded_executor.py`` fails loudly if they change.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext, StepExecutionContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import _trigger_hook, dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor

DEFAULT_THREADS = 6
_POLL_SECONDS = 1.0  # how often the orchestrator looks again for steps waiting on a slot another run holds


@dataclass(frozen=True)
class _StepDone:
    """A step thread's last message: its events are all in the queue (``error`` when it broke out)."""

    error: BaseException | None = None


def _run_step(step_context: StepExecutionContext, out: queue.Queue[tuple[str, Any]]) -> None:
    """Run one step on this thread and hand every event it yields to the orchestrator."""
    key = step_context.step.key
    error: BaseException | None = None
    try:
        events = []
        for event in dagster_event_sequence_for_step(step_context):
            events.append(event)
            out.put((key, event))
        for event in _trigger_hook(step_context, events):
            out.put((key, event))
    except BaseException as exc:  # noqa: BLE001 - re-raised on the orchestrating thread
        error = exc
    finally:
        out.put((key, _StepDone(error)))


class _PromptConcurrencyContext(InstanceConcurrencyContext):
    """Dagster's pool claims, where the step given a slot this run frees asks for it at once.

    Dagster backs a blocked claim off (1 s, growing 1.1x per try up to 15 s) because another run's
    slot frees at a time it cannot know. A slot this run frees is known the moment its step ends: the
    night's DuckDB loads queue for the one ``duckdb_writer`` slot, and the back-off idled ~0.3 to 1.5 s
    between loads, half of a night's load phase. On freeing, the storage assigns the slot to the pool's
    next pending step (priority, then enqueue time); only that step, if it is this run's, is made due.
    Making every waiting step due instead cost a few SQLite queries per step per freed slot, ~3 s of
    a night's CPU.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_of: dict[str, str] = {}  # step -> the pool it claimed or waits for

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        """Dagster's claim, remembering the step's pool; a waiting step does not ask while this run holds every slot.

        Those slots free when this run's steps end, and ``free_step`` then makes the step given one due;
        asking on Dagster's back-off meanwhile only repeats queries (~100 in a night). A pool limit
        raised while this run holds every slot is seen when one of them frees.
        """
        self._pool_of.setdefault(step_key, concurrency_key)
        if step_key in self._pending_claims and self._holds_every_slot(concurrency_key):
            return False
        return super().claim(concurrency_key, step_key, step_priority)

    def _holds_every_slot(self, pool: str) -> bool:
        """Whether this run's running steps hold as many slots of ``pool`` as its limit (as last read)."""
        limit = self._pools.get(pool) if self._pools else None
        if limit is None:
            return False
        return sum(1 for step in self._claims if self._pool_of.get(step) == pool) >= limit.limit

    def free_step(self, step_key: str) -> None:
        """Free the step's slot; the step of this run the pool assigned it to claims it at the next look."""
        held = step_key in self._claims
        super().free_step(step_key)
        pool = self._pool_of.pop(step_key, None)
        if not held or pool is None or not self._pending_claims:
            return
        info = self._instance.event_log_storage.get_concurrency_info(pool)
        for pending in info.pending_steps:
            if pending.run_id == self._run_id and pending.assigned_timestamp and pending.step_key in self._pending_claims:
                self._pending_timeouts[pending.step_key] = 0.0


def _threaded_plan_iterator(
    job_context: PlanExecutionContext, execution_plan: ExecutionPlan, *, threads: int
) -> Iterator[DagsterEvent]:
    """Dagster's in-process plan loop with up to ``threads`` steps running at once."""
    compute_logs = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    with ExitStack() as stack:
        concurrency = stack.enter_context(_PromptConcurrencyContext(job_context.instance, job_context.dagster_run))
        active = stack.enter_context(
            execution_plan.start(
                retry_mode=job_context.retry_mode,
                instance_concurrency_context=concurrency,
                step_dependency_config=job_context.step_dependency_config,
            )
        )
        # One capture for the whole process, as Dagster's in-process executor does (threads share fds).
        log_key = compute_logs.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
        log_context = stack.enter_context(compute_logs.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)

        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        running: dict[str, threading.Thread] = {}
        # Asking the plan for runnable steps costs (pool claims go to the instance's storage): it is asked
        # when a step ends, and every _POLL_SECONDS while steps wait on a pool slot, not once per event
        # (a night yields thousands, and a busy loop here starved the step threads of the GIL).
        plan_changed, next_look = True, 0.0
        while not active.is_complete or running:
            look = not active.is_complete and len(running) < threads and (plan_changed or time.monotonic() >= next_look)
            if look:
                plan_changed, next_look = False, time.monotonic() + _POLL_SECONDS
                for step in active.get_steps_to_execute(limit=threads - len(running)):
                    step_context = job_context.for_step(step, active.get_known_state())
                    thread = threading.Thread(
                        target=_run_step, args=(step_context, events), name=f"step {step.key}", daemon=True
                    )
                    running[step.key] = thread
                    thread.start()
                yield from active.concurrency_event_iterator(job_context)
            if not running:
                active.sleep_til_ready()  # steps wait on a pool slot or a retry delay
                plan_changed = True
                continue
            try:
                key, item = events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, _StepDone):
                running.pop(key).join()
                if item.error is not None:
                    raise item.error
                active.verify_complete(job_context, key)
                yield from active.plan_events_iterator(job_context)
                plan_changed = True
                continue
            yield item
            active.handle_event(item)


class ThreadedExecutor(Executor):
    """Runs a plan's steps in up to ``threads`` threads of the run worker's process."""

    def __init__(self, threads: int, retries: RetryMode = RetryMode.ENABLED) -> None:
        self._threads = threads
        self._retries = retries

    @property
    def retries(self) -> RetryMode:
        """Op retry policies apply (enabled, as in Dagster's own executors by default)."""
        return self._retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        """Steps start once their upstream steps succeeded (Dagster's default)."""
        return StepDependencyConfig.default()

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        """Execute the plan: resources once for the run, then steps in threads; engine events around it."""
        pid = os.getpid()
        keys = execution_plan.step_keys_to_execute
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in up to {self._threads} threads of one process (pid: {pid})",
            event_specific_data=EngineEventData.in_process(pid, keys),
        )
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=partial(_threaded_plan_iterator, threads=self._threads),
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context, f"Finished steps in threads of one process (pid: {pid})",
            event_specific_data=EngineEventData.in_process(pid, keys),
        )


@dg.executor(
    name="threads",
    config_schema={
        "max_concurrent": dg.Field(
            int, default_value=DEFAULT_THREADS, description="Most steps running at once (threads of one process)."
        )
    },
)
def threaded_executor(init_context: dg.InitExecutorContext) -> Executor:
    """Steps of a run side by side in threads of one process (one embedded simulator for all of them)."""
    threads = int(init_context.executor_config["max_concurrent"])
    if threads < 1:
        raise ValueError(f"max_concurrent must be at least 1, got {threads}")
    return ThreadedExecutor(threads)

