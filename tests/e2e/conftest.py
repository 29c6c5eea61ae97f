"""Fixtures the console-script tests share."""

from __future__ import annotations

import pytest

from tests.e2e.cli_helpers import Workdir

NIGHT = "2026-11-20"


@pytest.fixture(scope="session")
def night_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Table hashes of an uninterrupted `ingest --date 2026-11-20` (embedded simulator, fast limits).

    What a crashed-and-re-run night and an OAuth night must land too. Session-scoped: each xdist
    worker makes it once for every module that compares with it. (xdist's ``loadgroup``, which could
    keep those modules on one worker, does nothing under pytest 9: it renames ``item._nodeid``, which
    pytest 9 no longer reads; pytest-xdist issue #1386, fix proposed in PR #1388.)
    """
    work = Workdir.make(tmp_path_factory.mktemp("night"))
    done = work.run(["ingest", "--date", NIGHT])
    assert done.returncode == 0, done.stderr[-3000:]
    return work.table_hashes()
