"""Fixtures the console-script tests share."""

from __future__ import annotations

import pytest

from tests.e2e.cli_helpers import Workdir

NIGHT = "2026-11-20"


@pytest.fixture(scope="session")
def night_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Table hashes of an uninterrupted `ingest --date 2026-11-20` (embedded simulator, fast limits).

    What a crashed-and-re-run night and an OAuth night must land too. Session-scoped, and the modules
    using it share an xdist group (``fast_night``), so the suite makes it once.
    """
    work = Workdir.make(tmp_path_factory.mktemp("night"))
    done = work.run(["ingest", "--date", NIGHT])
    assert done.returncode == 0, done.stderr[-3000:]
    return work.table_hashes()
