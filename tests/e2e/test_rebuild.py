"""Any table can be rebuilt from the raw archive without IBKR: delete the DuckDB file and the lake,
rebuild, and every table is what it was (content hashes, not counts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import Workdir

pytestmark = pytest.mark.slow


def test_rebuild_from_the_raw_archive_gives_back_every_table(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path)
    first = work.run(["ingest", "--from", "2026-11-18", "--to", "2026-11-19"])
    assert first.returncode == 0, first.stderr[-2000:]
    again = work.run(["ingest", "--date", "2026-11-19"])  # a second run of a date: its latest answers win
    assert again.returncode == 0, again.stderr[-2000:]
    original = work.table_hashes()
    assert all(not h.startswith("0:") for h in original.values()), original

    work.db.unlink()
    shutil.rmtree(work.root / "data" / "lake")
    rebuilt = work.run(["rebuild"], IBKR_BASE_URL="https://127.0.0.1:9/v1/api")  # IBKR unreachable: not needed
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "no IBKR request" in rebuilt.stdout
    assert work.table_hashes() == original

    one = work.run(["rebuild", "--table", "ledger", "--from", "2026-11-19", "--to", "2026-11-19"])
    assert one.returncode == 0, one.stderr[-2000:]
    assert work.table_hashes() == original


def test_rebuilding_what_was_never_fetched_says_so_in_one_line(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path)
    done = work.run(["rebuild", "--table", "positions", "--from", "2026-11-18", "--to", "2026-11-18"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: the raw archive has no answers of positions for 2026-11-18: ingest that date instead"
    ]
    bad = work.run(["rebuild", "--table", "nope"])
    assert bad.returncode == 2 and bad.stderr.startswith("error: --table: unknown table(s) ['nope']")
