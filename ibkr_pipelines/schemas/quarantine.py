"""The bookkeeping tables: `quarantine` (rows that failed validation), `_load_log`, `_datasets`."""

from __future__ import annotations

from ibkr_pipelines.schemas.spec import BIGINT, BOOLEAN, TEXT, TIMESTAMP, LoadStrategy, TableSpec, col

QUARANTINE = TableSpec(
    name="quarantine",
    description="Rows that failed validation, with a readable reason and the row as JSON; replaced per table and partition.",
    source="validation of every extracted frame",
    columns=(
        col("table_name", TEXT, "The table the row was meant for.", nullable=False),
        col("partition_key", TEXT, "The partition (date) it was extracted for.", nullable=False),
        col("row_number", BIGINT, "Its position in the extracted frame."),
        col("reason", TEXT, "Why it failed, e.g. 'conid: not_nullable' or 'duplicate natural key (...)'.",
            nullable=False),
        col("row_json", TEXT, "The row as JSON."),
        col("run_id", TEXT, "The Dagster run that extracted it."),
        col("quarantined_at", TIMESTAMP, "When it was quarantined, UTC."),
    ),
    natural_key=(),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column=None,
    validated=False,
)

LOAD_LOG = TableSpec(
    name="_load_log",
    description="One row appended per load of a table partition: a history of loads (see the load_status view).",
    source="every warehouse load",
    columns=(
        col("table_name", TEXT, "The table loaded.", nullable=False),
        col("partition_key", TEXT, "The partition (date) loaded.", nullable=False),
        col("rows", BIGINT, "Rows the partition has after the load.", nullable=False),
        col("quarantined", BIGINT, "Rows of the partition in quarantine.", nullable=False),
        col("lake_path", TEXT, "The Parquet file loaded."),
        col("run_id", TEXT, "The Dagster run that loaded it."),
        col("loaded_at", TIMESTAMP, "When, UTC.", nullable=False),
    ),
    natural_key=(),
    load=LoadStrategy.UPSERT,
    partition_column=None,
    validated=False,
)

DATASETS_TABLE = TableSpec(
    name="_datasets",
    description="The data tables the warehouse holds, refreshed on every schema check (what load_status expects).",
    source="the table specs",
    columns=(
        col("table_name", TEXT, "A data table.", nullable=False),
        col("description", TEXT, "What it holds."),
        col("nightly", BOOLEAN, "Landed every night, so load_status expects a load of it for every date."),
    ),
    natural_key=("table_name",),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column=None,
    validated=False,
)

# The polars layouts the landing code writes.
QUARANTINE_SCHEMA = QUARANTINE.polars_schema()
LOAD_LOG_SCHEMA = LOAD_LOG.polars_schema()
