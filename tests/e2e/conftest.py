"""Fixtures the console-script tests share."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import NIGHT, Workdir


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this test session sees (pytest-xdist gives each worker its own base temp, inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """An uninterrupted `ingest --date 2026-11-20` (embedded simulator, fast limits), made once per test session.

    Read-only for the tests that use it; a test that writes runs on a copy (``cli_helpers.copy_of_night``). The first
    worker to need it runs the night under a lock file; the others wait for it and read the same
    folder (pytest-xdist's advice for a session fixture made once; its ``loadgroup``, which could keep
    the users on one worker, does nothing under pytest 9: pytest-xdist issue #1386).
    """
    root = _shared_folder(tmp_path_factory) / "night"
    with open(root.with_name("night.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        work = Workdir.make(root)
        landed = root / ".landed"
        if not landed.exists():
            done = work.run(["ingest", "--date", NIGHT])
            assert done.returncode == 0, done.stderr[-3000:]
            landed.touch()
    return work


@pytest.fixture(scope="session")
def night_tables(night: Workdir) -> dict[str, str]:
    """Table hashes of that night: what a crashed-and-re-run night and an OAuth night must land too."""
    return night.table_hashes()
