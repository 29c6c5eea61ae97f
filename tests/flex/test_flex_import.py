"""`flex import`: statements saved from IBKR's portal land through the fetch path, archived, idempotently."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ibkr_pipelines.flex_import import import_files
from ibkr_pipelines.staging import Storage
from tests.extract.conftest import recorded_dir

FLEX_DIR = recorded_dir() / "Flex"
# Two layouts over about two months (each date of the window gets a lake partition: a short window keeps it quick).
FILES = [FLEX_DIR / "unit-cash-transactions-consolidated.xml", FLEX_DIR / "trade-confirmations.xml"]
EXE = Path(sys.executable).with_name("ibkr-pipelines")
pytestmark = pytest.mark.skipif(not all(p.is_file() for p in FILES), reason=f"no recorded Flex files in {FLEX_DIR}")


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where table_name like 'flex_%'").fetchall()]
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in tables}


def test_importing_the_same_files_twice_changes_nothing_and_archives_them(tmp_path: Path) -> None:
    storage = Storage.at(tmp_path / "data")
    loads, held = import_files(FILES, storage)
    assert {s.table: s.rows for s in loads if s.rows} == {"flex_trades": 39, "flex_cash_transactions": 3,
                                                          "flex_other_rows": 43}
    assert held["flex_other_rows (TradeConfirms)"] == 41 and held["flex_trades"] == 39
    first = _contents(tmp_path / "data" / "ibkr.duckdb")
    _, held_again = import_files([*reversed(FILES), FILES[0]], storage, run_id="again")  # another order, one twice
    assert _contents(tmp_path / "data" / "ibkr.duckdb") == first
    assert held_again == held  # a file named twice is one file
    # Each file is in the raw archive, byte for byte, as a fetched statement would be.
    archived = [gzip.decompress(p.read_bytes()) for p in (tmp_path / "data" / "raw").rglob("*.gz")]
    assert all(f.read_bytes() in archived for f in FILES)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([str(EXE), "flex", "import", str(tmp_path / "nowhere.xml")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "nowhere.xml" in done.stderr
