"""Columns every IBKR table has in the same sense."""

from __future__ import annotations

from ibkr_pipelines.schemas.spec import TEXT, col

RAW_EXTRA = col(
    "raw_extra", TEXT, "IBKR fields this table has no column for, and values that did not convert, as JSON (kept, not lost)."
)
