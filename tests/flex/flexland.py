"""Land Flex XML into a warehouse in-process, as the flex source's staging does, without a window of empty dates.

The documents go through the real parser (``read_flex``), validation (bad rows quarantined), the lake
(one partition per report_date, sliced by account) and the warehouse's window load (one transaction per
table). ``flex import`` would load every date between the first and the last report date, a few seconds
per month of window; tests that write rows months apart land only the dates that have rows.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ibkr_pipelines.flex import read_flex
from ibkr_pipelines.land.lake import Lake, PartitionSlice
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.land.warehouse import Warehouse, WindowPart
from ibkr_pipelines.schemas.flex_tables import FLEX_SPECS


def land_flex(data_dir: Path, *documents: bytes | str, today: dt.date, run_id: str = "flex-test") -> Warehouse:
    """A warehouse in ``data_dir`` holding the Flex tables of ``documents`` (each landed as one fetch, its
    slash dates read as of ``today``, never the wall clock); no row may be quarantined."""
    warehouse = Warehouse(data_dir / "ibkr.duckdb", lock_timeout=5.0)
    warehouse.ensure_schema()
    for document in documents:
        text = document.encode() if isinstance(document, str) else document
        for table, frame in read_flex(text, today=today).items():
            _land_table(Lake(data_dir), warehouse, table, frame, run_id)
    return warehouse


def _land_table(lake: Lake, warehouse: Warehouse, table: str, frame: pl.DataFrame, run_id: str) -> None:
    """One table's rows: a lake partition per report date, then one window load."""
    spec = FLEX_SPECS[table]
    parts = []
    for (day,), rows in frame.partition_by(spec.partition_column, as_dict=True, maintain_order=True).items():
        key = day.isoformat()
        valid, quarantine = split_valid(table, rows, partition_key=key, run_id=run_id)
        assert quarantine.height == 0, quarantine.to_dicts()
        covered = None
        if spec.slice_column:
            covered = PartitionSlice(spec.slice_column, tuple(sorted(set(rows[spec.slice_column]))))
        path = lake.write_partition(table, day, valid, slice_=covered)
        parts.append(WindowPart(key, path, lake.write_quarantine(table, day, quarantine)))
    if parts:
        warehouse.load_window(table, parts, run_id)
