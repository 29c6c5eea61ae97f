"""Small jobs for the threaded executor's tests (module-level, so ``dg.reconstructable`` can rebuild them)."""

from __future__ import annotations

import threading
import time

import dagster as dg

from assets.threaded_executor import threaded_executor

# Both `left` and `right` wait here: the job only succeeds when they run at the same time.
MEETING = threading.Barrier(2, timeout=20)
# (step, start, end) of every writer, to show the pool keeps them apart.
WRITES: list[tuple[str, float, float]] = []


@dg.asset
def left() -> int:
    """Waits for `right` at the barrier."""
    MEETING.wait()
    return 1


@dg.asset
def right() -> int:
    """Waits for `left` at the barrier."""
    MEETING.wait()
    return 2


@dg.asset
def both(left: int, right: int) -> int:
    """Runs only after both upstreams succeeded."""
    return left + right


@dg.asset
def broken() -> int:
    """Always fails, so its downstream is skipped."""
    raise RuntimeError("broken on purpose")


@dg.asset
def after_broken(broken: int) -> int:
    """Never runs: its upstream fails."""
    return broken


def _writer(name: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, pool="test_writer")
    def write() -> None:
        began = time.monotonic()
        time.sleep(0.3)
        WRITES.append((name, began, time.monotonic()))

    return write


def meeting_job() -> dg.JobDefinition:
    """Two steps that must overlap, one that waits for both, and a failure with a skipped downstream."""
    return dg.Definitions(
        assets=[left, right, both, broken, after_broken],
        jobs=[dg.define_asset_job("meeting", executor_def=threaded_executor)],
    ).resolve_job_def("meeting")


def writers_job() -> dg.JobDefinition:
    """Three steps in one pool: with a limit of 1 they run one after another, whatever the threads."""
    return dg.Definitions(
        assets=[_writer("write_a"), _writer("write_b"), _writer("write_c")],
        jobs=[dg.define_asset_job("writers", executor_def=threaded_executor)],
    ).resolve_job_def("writers")
