"""`account_summary`: /portfolio/{id}/summary in long form, one row per metric."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.types import UTC_TIMESTAMP


class AccountSummarySchema(pa.DataFrameModel):
    """One summary metric (e.g. ``netliquidation``) of one account on one snapshot date."""

    snapshot_date: pl.Date = pa.Field(nullable=False)
    account_id: pl.Utf8 = pa.Field(nullable=False)
    metric: pl.Utf8 = pa.Field(nullable=False)
    amount: pl.Float64 = pa.Field(nullable=True)
    currency: pl.Utf8 = pa.Field(nullable=True)
    value_text: pl.Utf8 = pa.Field(nullable=True)
    is_null: pl.Boolean = pa.Field(nullable=True)
    reported_at: UTC_TIMESTAMP = pa.Field(nullable=True)
    severity: pl.Int32 = pa.Field(nullable=True)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["snapshot_date", "account_id", "metric"]
