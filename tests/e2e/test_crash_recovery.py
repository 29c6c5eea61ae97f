"""kill -9 at every stage, Ctrl-C and SIGTERM: the next run finishes on its own and the tables end up
identical (content hashes) to those of a run that was never interrupted."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import ROOT, Workdir, kill_group, wait_for_line
from tests.e2e.crash_points import MARKER

DAY = "2026-11-20"
CRASHER = [str(ROOT / "tests" / "e2e" / "crash_points.py"), "ingest", "--date", DAY]


# The tables of an ingest of DAY that nothing interrupted: conftest.night_tables, made once per worker.
@pytest.fixture
def reference(night_tables: dict[str, str]) -> dict[str, str]:
    """The tables of an ingest of DAY that nothing interrupted."""
    return night_tables


@pytest.mark.slow
@pytest.mark.parametrize("point", ["extracting:positions", "inside-load:positions", "after-load:ledger"])
def test_kill_9_then_re_run_converges(tmp_path: Path, reference: dict[str, str], point: str) -> None:
    work = Workdir.make(tmp_path)
    crashed = work.start([], python_args=CRASHER, CRASH_POINT=point)
    try:
        wait_for_line(crashed, f"{MARKER} {point}")
    finally:
        kill_group(crashed, signal.SIGKILL)
    if point.startswith("inside-load"):
        landed = dict(work.query("SELECT table_name, count(*) FROM _load_log GROUP BY 1"))
        assert "positions" not in landed, "the killed transaction left nothing of positions behind"
    done = work.run(["ingest", "--date", DAY], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "had lost its process (killed?)" in done.stderr, "the dead run was found and its slot freed"
    assert work.table_hashes() == reference
    assert work.query(f"SELECT complete, tables_missing FROM load_status WHERE partition_key = '{DAY}'") == [(True, [])]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_stop_the_run_at_once(tmp_path: Path, reference: dict[str, str], sig: int, code: int) -> None:
    work = Workdir.make(tmp_path)
    running = work.start([], python_args=CRASHER, CRASH_POINT="extracting:positions")
    wait_for_line(running, f"{MARKER} extracting:positions")
    started = time.monotonic()
    running.send_signal(sig)
    running.wait(timeout=30)
    assert running.returncode == code
    assert time.monotonic() - started < 10
    assert running.stderr is not None
    assert "canceled; what already landed stays" in running.stderr.read()
    done = work.run(["ingest", "--date", DAY], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert work.table_hashes() == reference


@pytest.mark.slow
def test_a_run_waiting_for_the_writer_slot_still_stops_on_sigterm(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path)
    holder = work.start([], python_args=CRASHER, CRASH_POINT="inside-load:accounts")
    try:
        wait_for_line(holder, f"{MARKER} inside-load:accounts")
        waiting = work.start(["ingest", "--date", DAY])
        try:
            wait_for_line(waiting, "slot is held by run", timeout=60)
            started = time.monotonic()
            waiting.send_signal(signal.SIGTERM)
            waiting.wait(timeout=30)
            assert waiting.returncode == 143
            assert time.monotonic() - started < 10
        finally:
            kill_group(waiting, signal.SIGKILL)
    finally:
        kill_group(holder, signal.SIGKILL)
