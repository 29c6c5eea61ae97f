"""The Parquet lake: one hive-style partition file per table and snapshot date, written atomically.

Layout under ``<data_dir>/lake`` (the date folder's name comes from the table's spec)::

    <table>/snapshot_date=YYYY-MM-DD/part-0.parquet        e.g. positions
    contracts/seen_date=YYYY-MM-DD/part-0.parquet          the contracts seen that day
    _quarantine/table=<t>/partition=<p>/part-0.parquet     rows that failed validation

Files are written to a temporary name in the same folder and renamed over the target, so a reader
never sees half a file and a re-run replaces the partition cleanly. The partition column is also
kept inside the file, so one file can be loaded on its own.

A partition file also says, in its Parquet key-value metadata, which slice of the partition the
extraction covered (e.g. ``account_id`` in [U1, U2] when ``IBKR_ACCOUNT_IDS`` named two accounts):
the warehouse replaces exactly that slice, so a run for one account never wipes the others.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ibkr_pipelines.schemas import spec_for

PART_FILE = "part-0.parquet"
QUARANTINE_DIR = "_quarantine"
SLICE_METADATA_KEY = "ibkr_pipelines.slice"


@dataclass(frozen=True)
class PartitionSlice:
    """The slice of a partition one extraction covered: ``column`` in ``values`` (None: all of it)."""

    column: str
    values: tuple[str, ...]

    def to_json(self) -> str:
        """Compact JSON for the Parquet metadata."""
        return json.dumps({"column": self.column, "values": list(self.values)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "PartitionSlice":
        """Read the form written by ``to_json``."""
        raw = json.loads(text)
        return cls(column=str(raw["column"]), values=tuple(str(v) for v in raw["values"]))


def partition_key_of(value: dt.date | str) -> str:
    """The ``YYYY-MM-DD`` text of a partition date (checked, so paths never get odd names)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    return dt.date.fromisoformat(str(value)).isoformat()


def partition_column(table: str) -> str:
    """The hive name of ``table``'s date folders, from its spec (``snapshot_date``, ``seen_date``...)."""
    return spec_for(table).lake_key


def write_parquet_atomic(df: pl.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``df`` (with optional key-value ``metadata``) to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        df.write_parquet(tmp, compression="zstd", statistics=True, metadata=metadata or None)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


class Lake:
    """The Parquet lake under ``<data_dir>/lake``: partition paths, atomic writes, reads."""

    def __init__(self, data_dir: Path | str) -> None:
        """Point at ``<data_dir>/lake`` (created on first write)."""
        self.root = Path(data_dir) / "lake"

    def table_dir(self, table: str) -> Path:
        """Folder holding every partition of ``table``."""
        partition_column(table)
        return self.root / table

    def partition_path(self, table: str, partition_key: dt.date | str) -> Path:
        """File of one partition, e.g. ``lake/positions/snapshot_date=2024-05-01/part-0.parquet``."""
        key = partition_key_of(partition_key)
        return self.table_dir(table) / f"{partition_column(table)}={key}" / PART_FILE

    def quarantine_path(self, table: str, partition_key: dt.date | str) -> Path:
        """File of the quarantined rows of one table partition."""
        key = partition_key_of(partition_key)
        partition_column(table)
        return self.root / QUARANTINE_DIR / f"table={table}" / f"partition={key}" / PART_FILE

    def write_partition(
        self, table: str, partition_key: dt.date | str, df: pl.DataFrame, *, slice_: PartitionSlice | None = None
    ) -> Path:
        """Replace one partition of ``table`` with ``df`` (atomically), noting the slice it covers; returns the path."""
        metadata = {SLICE_METADATA_KEY: slice_.to_json()} if slice_ is not None else None
        return write_parquet_atomic(df, self.partition_path(table, partition_key), metadata)

    def write_quarantine(self, table: str, partition_key: dt.date | str, df: pl.DataFrame) -> Path:
        """Replace the quarantined rows of one partition (an empty frame clears them); returns the path."""
        return write_parquet_atomic(df, self.quarantine_path(table, partition_key))

    def read_partition(self, table: str, partition_key: dt.date | str) -> pl.DataFrame:
        """Read one partition back (raises FileNotFoundError if it was never written)."""
        return pl.read_parquet(self.partition_path(table, partition_key), hive_partitioning=False)

    def partitions(self, table: str) -> list[str]:
        """The partition keys of ``table`` present in the lake, sorted."""
        prefix = f"{partition_column(table)}="
        folder = self.table_dir(table)
        if not folder.is_dir():
            return []
        return sorted(
            p.name[len(prefix):] for p in folder.iterdir() if p.name.startswith(prefix) and (p / PART_FILE).is_file()
        )


def read_slice(path: Path | str) -> PartitionSlice | None:
    """The slice a partition file covers, from its metadata (None: the whole partition)."""
    found = pl.read_parquet_metadata(path).get(SLICE_METADATA_KEY)
    return PartitionSlice.from_json(found) if found else None
