"""Fixtures the console-script tests share."""

from __future__ import annotations

import pytest

from tests.e2e.cli_helpers import Workdir

NIGHT = "2026-11-20"


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """An uninterrupted `ingest --date 2026-11-20` (embedded simulator, fast limits), made once per worker.

    Read-only for the tests that use it. (xdist's ``loadgroup``, which could keep its users on one
    worker, does nothing under pytest 9: it renames ``item._nodeid``, which pytest 9 no longer reads;
    pytest-xdist issue #1386, fix proposed in PR #1388.)
    """
    work = Workdir.make(tmp_path_factory.mktemp("night"))
    done = work.run(["ingest", "--date", NIGHT])
    assert done.returncode == 0, done.stderr[-3000:]
    return work


@pytest.fixture(scope="session")
def night_tables(night: Workdir) -> dict[str, str]:
    """Table hashes of that night: what a crashed-and-re-run night and an OAuth night must land too."""
    return night.table_hashes()
