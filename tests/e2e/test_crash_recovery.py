"""kill -9 at every stage, Ctrl-C and SIGTERM: the next run finishes on its own and the tables end up
identical (content hashes) to those of a run that was never interrupted.

One kill lands in the whole night, every step in flight (bars, executions, orders half-written); the
others stop a night of the three tables their crash points name (``--select``), which is all they
exercise, at a third of a night's CPU. Either is compared with the session's uninterrupted night.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from ibkr_pipelines.ingest_command import selected_tables
from ibkr_pipelines.sources import nightly_tables
from tests.e2e.cli_helpers import NIGHT, ROOT, Workdir, kill_group, wait_for_line
from tests.e2e.crash_points import MARKER

DAY = NIGHT  # the session night's date: every run here is compared with that night
CRASHER = [str(ROOT / "tests" / "e2e" / "crash_points.py"), "ingest", "--date", DAY]
# The tables the crash points name (accounts, ledger, positions); None is the whole night.
SUBSET = "accounts,ledger,positions"


def night_args(select: str | None) -> list[str]:
    """The ingest arguments after ``--date DAY``: the subset's ``--select``, or nothing for the whole night."""
    return ["--select", select] if select else []


def landed_like(reference: dict[str, str], work: Workdir, select: str | None) -> None:
    """The tables the run was asked for hold what the uninterrupted night has, and the date says what is missing."""
    tables = selected_tables(select)
    assert {t: h for t, h in work.table_hashes().items() if t in tables} == {t: reference[t] for t in tables}
    missing = sorted(set(nightly_tables()) - set(tables))
    assert work.query(f"SELECT complete, tables_missing FROM load_status WHERE partition_key = '{DAY}'") == [
        (not missing, missing)]


# The tables of an ingest of DAY that nothing interrupted: conftest.night_tables, made once per test session.
@pytest.fixture
def reference(night_tables: dict[str, str]) -> dict[str, str]:
    """The tables of an ingest of DAY that nothing interrupted."""
    return night_tables


@pytest.mark.slow
@pytest.mark.parametrize(("point", "select"), [
    ("extracting:positions", None), ("inside-load:positions", SUBSET), ("after-load:ledger", SUBSET)])
def test_kill_9_then_re_run_converges(tmp_path: Path, reference: dict[str, str], point: str, select: str | None) -> None:
    work = Workdir.make(tmp_path)
    crashed = work.start([], python_args=[*CRASHER, *night_args(select)], CRASH_POINT=point)
    try:
        wait_for_line(crashed, f"{MARKER} {point}")
    finally:
        kill_group(crashed, signal.SIGKILL)
    if point.startswith("inside-load"):
        landed = dict(work.query("SELECT table_name, count(*) FROM _load_log GROUP BY 1"))
        assert "positions" not in landed, "the killed transaction left nothing of positions behind"
    done = work.run(["ingest", "--date", DAY, *night_args(select)], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "had lost its process (killed?)" in done.stderr, "the dead run was found and its slot freed"
    landed_like(reference, work, select)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_stop_the_run_at_once(tmp_path: Path, reference: dict[str, str], sig: int, code: int) -> None:
    work = Workdir.make(tmp_path)
    running = work.start([], python_args=[*CRASHER, *night_args(SUBSET)], CRASH_POINT="extracting:positions")
    wait_for_line(running, f"{MARKER} extracting:positions")
    started = time.monotonic()
    running.send_signal(sig)
    running.wait(timeout=30)
    assert running.returncode == code
    assert time.monotonic() - started < 10
    assert running.stderr is not None
    assert "canceled; what already landed stays" in running.stderr.read()
    done = work.run(["ingest", "--date", DAY, *night_args(SUBSET)], timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    landed_like(reference, work, SUBSET)


@pytest.mark.slow
def test_a_run_waiting_for_the_writer_slot_still_stops_on_sigterm(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path)
    holder = work.start([], python_args=[*CRASHER, *night_args(SUBSET)], CRASH_POINT="inside-load:accounts")
    try:
        wait_for_line(holder, f"{MARKER} inside-load:accounts")
        waiting = work.start(["ingest", "--date", DAY, *night_args(SUBSET)])
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
