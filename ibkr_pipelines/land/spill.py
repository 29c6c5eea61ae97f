"""The spill: a fetch's rows per table and date, kept on disk until staging writes each date to the lake.

A window fetch (a year of minute bars) yields answer after answer; holding them all until the
window is done would hold a whole backfill in memory. The spill buffers each table's rows, every
row tagged with its date (a ``DAY`` column), up to a row budget; then each table's buffer is split
by date once and appended to each date's folder as one small Parquet file. Staging reads back one
date at a time, validates it, and writes that date's lake partition. Memory stays at the budget
plus one date; splitting per flush, not per answer, keeps a year of daily bars (one row per date
and answer) from costing one split per row.

Each spill lives in ``<data_dir>/.spill/<pid>-<random>/`` and is removed when closed; a spill left
by a killed process (its pid no longer running) is removed by the next one, so ``kill -9`` leaves
nothing that grows.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections import defaultdict
from pathlib import Path
from types import TracebackType

import polars as pl

from ibkr_pipelines.processes import pid_alive

SPILL_DIR = ".spill"
DAY = "__spill_day"  # the date column every added frame carries; dropped when a date is read back
# Rows buffered (over every table and date) before they go to disk: ~50 MB of bars.
DEFAULT_BUDGET_ROWS = 250_000


def remove_dead_spills(data_dir: Path) -> list[Path]:
    """Remove the spill folders of processes that no longer run (a killed run's leftovers); returns them."""
    removed = []
    base = Path(data_dir) / SPILL_DIR
    for folder in base.iterdir() if base.is_dir() else ():
        pid = folder.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class Spill:
    """Rows per (table, date) on their way to the lake: buffered up to a budget, then small Parquet files."""

    def __init__(self, data_dir: Path, *, budget_rows: int = DEFAULT_BUDGET_ROWS) -> None:
        """Open a new spill under ``<data_dir>/.spill`` (clearing dead processes' spills first)."""
        remove_dead_spills(data_dir)
        self.folder = Path(data_dir) / SPILL_DIR / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.folder.mkdir(parents=True)
        self.budget_rows = budget_rows
        self._buffers: dict[str, list[pl.DataFrame]] = defaultdict(list)
        self._buffered = 0
        self._files: dict[tuple[str, dt.date], list[Path]] = defaultdict(list)
        self.flushes = 0

    def add(self, table: str, frame: pl.DataFrame) -> None:
        """Keep ``frame``'s rows for ``table`` (each row's date in its ``DAY`` column); to disk when the budget is full."""
        if frame.height == 0:
            return
        self._buffers[table].append(frame)
        self._buffered += frame.height
        if self._buffered >= self.budget_rows:
            self.flush()

    def flush(self) -> None:
        """Split every table's buffer by date once and write one file per table and date; empty the buffers."""
        for table, frames in self._buffers.items():
            buffered = pl.concat(frames, how="vertical")
            for (day,), rows in buffered.partition_by(DAY, as_dict=True, maintain_order=True).items():
                files = self._files[(table, day)]
                path = self.folder / table / day.isoformat() / f"{len(files):05d}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                rows.write_parquet(path, compression="lz4", statistics=False)
                files.append(path)
        if self._buffers:
            self.flushes += 1
        self._buffers.clear()
        self._buffered = 0

    def read(self, table: str, day: dt.date, schema: pl.Schema) -> pl.DataFrame:
        """Every row kept for ``table`` and ``day``, in the order added (``schema``'s empty frame when none)."""
        if self._buffers:
            self.flush()  # reading starts when adding is over: everything goes to its date's files once
        frames = [pl.read_parquet(p) for p in self._files.get((table, day), [])]
        return pl.concat(frames, how="vertical").drop(DAY) if frames else pl.DataFrame(schema=schema)

    def discard(self, table: str, day: dt.date) -> None:
        """Drop what is kept for ``table`` and ``day`` (after it reached the lake), freeing disk."""
        for path in self._files.pop((table, day), []):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the spill folder and buffers."""
        self._buffers.clear()
        self._files.clear()
        self._buffered = 0
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
