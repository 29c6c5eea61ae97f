"""Column layouts of the bookkeeping tables `quarantine` and `_load_log` (not validated by pandera)."""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas.types import UTC_TIMESTAMP

# Rows that failed validation, with why, kept so a person can fix the source or the schema.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "table_name": pl.Utf8(),
    "partition_key": pl.Utf8(),
    "row_number": pl.Int64(),
    "reason": pl.Utf8(),
    "row_json": pl.Utf8(),
    "run_id": pl.Utf8(),
    "quarantined_at": UTC_TIMESTAMP,
}

# One row per load of a table partition, appended (a history of loads, not a current state).
LOAD_LOG_SCHEMA: dict[str, pl.DataType] = {
    "table_name": pl.Utf8(),
    "partition_key": pl.Utf8(),
    "rows": pl.Int64(),
    "quarantined": pl.Int64(),
    "lake_path": pl.Utf8(),
    "run_id": pl.Utf8(),
    "loaded_at": UTC_TIMESTAMP,
}
