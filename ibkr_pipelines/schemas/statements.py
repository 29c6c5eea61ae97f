"""`statements`: Account Management statements (reference §3.3) kept as files, one row per document.

A row says which statement a file holds (account, period, first and last day, mime type), where the
file is (relative to the data folder) and its sha256 and size, so a reader can check the file is the one
IBKR sent. Key: (account_id, period, start_date, end_date, mime_type). Dated by ``end_date``: a
statement of date D exists from D+1 ("ready around midnight ET", §3.3), hence a settled reach; a monthly
or annual statement lands in the partition of its period's last day. Upserted: a statement landed once
stays when a later run of its date is refused it.
"""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas.spec import BIGINT, DATE, TEXT, FrameCheck, LoadStrategy, Reach, TableSpec, col

PERIODS = ("daily", "monthly", "annual")

KNOWN_PERIOD = FrameCheck(
    "known_period", "period is daily, monthly or annual (the kinds GET /statements/available lists).",
    lambda frame: frame.select(pl.col("period").is_in(PERIODS)),
)
PERIOD_IN_ORDER = FrameCheck(
    "period_in_order", "start_date is not after end_date.",
    lambda frame: frame.select(pl.col("start_date") <= pl.col("end_date")),
)
SHA256_HEX = FrameCheck(
    "sha256_hex", "sha256 is 64 lowercase hex digits.",
    lambda frame: frame.select(pl.col("sha256").str.contains(r"^[0-9a-f]{64}$")),
)

STATEMENTS = TableSpec(
    name="statements",
    description="Account Management statements saved as files under the data folder: per account the daily "
    "statement of each date IBKR lists, and the monthly and annual ones whose last day is in the window.",
    source="Account Management API: GET /gw/api/v1/statements/available, POST /gw/api/v1/statements "
    "(reference §3.3; OAuth 2.0)",
    columns=(
        col("end_date", DATE, "Last day the statement covers (the lake partition).", nullable=False),
        col("account_id", TEXT, "IBKR account id the statement is of.", nullable=False),
        col("period", TEXT, "daily, monthly or annual.", nullable=False),
        col("start_date", DATE, "First day of the statement's period (a month's or a year's first day for monthly "
            "and annual ones; IBKR's document starts at the funding date when that is later).", nullable=False),
        col("mime_type", TEXT, "The document's type as IBKR answered it, e.g. application/pdf.", nullable=False),
        col("path", TEXT, "The file, relative to the data folder (IBKR_DATA_DIR), e.g. "
            "lake/statements_files/U1234567/daily/2026-11-20_2026-11-20.pdf.", nullable=False),
        col("sha256", TEXT, "SHA-256 of the file's bytes (the document IBKR sent, un-gzipped), lowercase hex.",
            nullable=False),
        col("size_bytes", BIGINT, "Size of the file in bytes.", nullable=False),
    ),
    natural_key=("account_id", "period", "start_date", "end_date", "mime_type"),
    load=LoadStrategy.UPSERT,
    partition_column="end_date",
    slice_column="account_id",
    reach=Reach.SETTLED,
    analyst_columns=("path", "sha256"),
    frame_checks=(KNOWN_PERIOD, PERIOD_IN_ORDER, SHA256_HEX),
)
