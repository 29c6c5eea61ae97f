"""`allocation`: /portfolio/{id}/allocation flattened to dimension x side x bucket."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class AllocationSchema(pa.DataFrameModel):
    """One allocation bucket (e.g. asset_class/long/STK) of one account on one snapshot date."""

    snapshot_date: pl.Date = pa.Field(nullable=False)
    account_id: pl.Utf8 = pa.Field(nullable=False)
    dimension: pl.Utf8 = pa.Field(nullable=False)
    side: pl.Utf8 = pa.Field(nullable=False)
    bucket: pl.Utf8 = pa.Field(nullable=False)
    value: pl.Float64 = pa.Field(nullable=True)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["snapshot_date", "account_id", "dimension", "side", "bucket"]
