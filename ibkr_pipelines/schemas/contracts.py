"""`contracts`: the security-definition dimension from /trsrv/secdef, one row per conid."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl


class ContractsSchema(pa.DataFrameModel):
    """One contract as last seen, with the first and last snapshot dates that saw it."""

    conid: pl.Int64 = pa.Field(nullable=False)
    ticker: pl.Utf8 = pa.Field(nullable=True)
    name: pl.Utf8 = pa.Field(nullable=True)
    full_name: pl.Utf8 = pa.Field(nullable=True)
    asset_class: pl.Utf8 = pa.Field(nullable=True)
    sec_type: pl.Utf8 = pa.Field(nullable=True)
    currency: pl.Utf8 = pa.Field(nullable=True)
    listing_exchange: pl.Utf8 = pa.Field(nullable=True)
    country_code: pl.Utf8 = pa.Field(nullable=True)
    expiry: pl.Utf8 = pa.Field(nullable=True)
    last_trading_day: pl.Utf8 = pa.Field(nullable=True)
    strike: pl.Float64 = pa.Field(nullable=True)
    put_or_call: pl.Utf8 = pa.Field(nullable=True)
    multiplier: pl.Float64 = pa.Field(nullable=True)
    und_conid: pl.Int64 = pa.Field(nullable=True)
    sector: pl.Utf8 = pa.Field(nullable=True)
    sector_group: pl.Utf8 = pa.Field(nullable=True)
    group_name: pl.Utf8 = pa.Field(nullable=True)
    is_us: pl.Boolean = pa.Field(nullable=True)
    has_options: pl.Boolean = pa.Field(nullable=True)
    is_event_contract: pl.Boolean = pa.Field(nullable=True)
    first_seen_date: pl.Date = pa.Field(nullable=False)
    last_seen_date: pl.Date = pa.Field(nullable=False)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["conid"]
