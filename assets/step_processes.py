"""Dagster's multiprocess executor (UI runs: each step in its own process) with this project's prompt pool claims.

Dagster's executor backs a blocked pool claim off (1 s, growing 1.1x per try) even when the slot is
held by a step of the same run, whose end it sees: the night's loads queue for the one
``duckdb_writer`` slot, and a two-day UI-style backfill spent most of its load phase in those
back-offs. This executor is Dagster's own, run with the threaded executor's claim context
(``_PromptConcurrencyContext``): the step a freed slot is assigned to claims it at the loop's next
pass. Dagster's executor names its context class at module level; it is swapped for the life of
this run's execution, in the run worker's process (one run per process). Built against Dagster
1.13's internals, as the threaded executor is; ``tests/pipeline/test_multiprocess.py`` runs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.executor_definition import (
    _core_multiprocess_executor_creation,
    multiple_process_executor_requirements,
)
from dagster._core.events import DagsterEvent
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor import multiprocess
from dagster._core.executor.base import Executor

from assets.threaded_executor import _PromptConcurrencyContext


class PromptStepProcesses(Executor):
    """Dagster's multiprocess executor, its pool claims made by ``_PromptConcurrencyContext``."""

    def __init__(self, inner: multiprocess.MultiprocessExecutor) -> None:
        self._inner = inner

    @property
    def retries(self) -> RetryMode:
        """Dagster's multiprocess executor's retry mode, as configured."""
        return self._inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        """Dagster's multiprocess executor's step dependencies, as configured."""
        return self._inner.step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        """Dagster's multiprocess execution, with the prompt claim context in place of Dagster's."""
        dagsters = multiprocess.InstanceConcurrencyContext
        multiprocess.InstanceConcurrencyContext = _PromptConcurrencyContext  # type: ignore[misc]
        try:
            yield from self._inner.execute(plan_context, execution_plan)
        finally:
            multiprocess.InstanceConcurrencyContext = dagsters  # type: ignore[misc]


def _create(init_context: dg.InitExecutorContext) -> Executor:
    """Dagster's multiprocess executor from its own config, wrapped."""
    return PromptStepProcesses(_core_multiprocess_executor_creation(init_context.executor_config))


prompt_multiprocess_executor = dg.ExecutorDefinition(
    name="prompt_multiprocess",
    config_schema=dg.multiprocess_executor.config_schema,
    requirements=multiple_process_executor_requirements(),
    executor_creation_fn=_create,
    description="Dagster's multiprocess executor; a slot this run frees is claimed at once, not after the back-off.",
)
