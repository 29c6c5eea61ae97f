"""The spill keeps rows per table and date on disk past its budget, gives them back in order, and leaves nothing."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from ibkr_pipelines.land.spill import DAY, SPILL_DIR, Spill, remove_dead_spills

DAY1, DAY2 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
SCHEMA = pl.Schema({"k": pl.Int64, "v": pl.String})


def rows(start: int, n: int, day: dt.date) -> pl.DataFrame:
    frame = pl.DataFrame({"k": list(range(start, start + n)), "v": [f"r{i}" for i in range(start, start + n)]},
                         schema=SCHEMA)
    return frame.with_columns(pl.lit(day).alias(DAY))


def test_rows_past_the_budget_go_to_disk_per_date_and_come_back_in_order(tmp_path: Path) -> None:
    with Spill(tmp_path, budget_rows=10) as spill:
        spill.add("t", pl.concat([rows(0, 6, DAY1), rows(100, 3, DAY2)]))  # one piece, two dates
        assert spill.flushes == 0
        spill.add("t", rows(6, 4, DAY1))  # 13 rows buffered: over the budget, split by date and written
        assert spill.flushes == 1
        assert sorted(p.parent.name for p in (spill.folder / "t").rglob("*.parquet")) == [str(DAY1), str(DAY2)]
        spill.add("t", rows(10, 2, DAY1))  # buffered; reading writes it after the spilled rows
        assert spill.read("t", DAY1, SCHEMA).get_column("k").to_list() == list(range(12))
        assert spill.read("t", DAY2, SCHEMA).rows() == [(100, "r100"), (101, "r101"), (102, "r102")]
        assert spill.read("other", DAY1, SCHEMA).schema == SCHEMA
        spill.discard("t", DAY1)
        assert spill.read("t", DAY1, SCHEMA).height == 0
        assert not list((spill.folder / "t" / DAY1.isoformat()).glob("*.parquet"))
        folder = spill.folder
    assert not folder.exists()


def test_a_killed_process_spill_is_removed_by_the_next(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / SPILL_DIR / f"{dead.stdout.strip()}-abc"
    (leftover / "bars" / "2026-11-20").mkdir(parents=True)
    mine = tmp_path / SPILL_DIR / f"{os.getpid()}-def"
    mine.mkdir()
    assert remove_dead_spills(tmp_path) == [leftover]
    assert not leftover.exists() and mine.exists()
    with Spill(tmp_path) as spill:
        assert spill.folder.parent == tmp_path / SPILL_DIR
