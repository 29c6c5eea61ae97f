"""`positions`: /portfolio/{id}/positions/{page}, one row per account and contract."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData


class PositionsSchema(pa.DataFrameModel):
    """One open position with its local and base-currency values and its security definition."""

    snapshot_date: pl.Date = pa.Field(nullable=False)
    account_id: pl.Utf8 = pa.Field(nullable=False)
    conid: pl.Int64 = pa.Field(nullable=False)
    contract_desc: pl.Utf8 = pa.Field(nullable=True)
    asset_class: pl.Utf8 = pa.Field(nullable=True)
    sec_type: pl.Utf8 = pa.Field(nullable=True)
    position: pl.Float64 = pa.Field(nullable=True)
    mkt_price: pl.Float64 = pa.Field(nullable=True)
    mkt_value: pl.Float64 = pa.Field(nullable=True)
    currency: pl.Utf8 = pa.Field(nullable=True)
    avg_cost: pl.Float64 = pa.Field(nullable=True)
    avg_price: pl.Float64 = pa.Field(nullable=True)
    realized_pnl: pl.Float64 = pa.Field(nullable=True)
    unrealized_pnl: pl.Float64 = pa.Field(nullable=True)
    base_mkt_value: pl.Float64 = pa.Field(nullable=True)
    base_mkt_price: pl.Float64 = pa.Field(nullable=True)
    base_avg_cost: pl.Float64 = pa.Field(nullable=True)
    base_avg_price: pl.Float64 = pa.Field(nullable=True)
    base_realized_pnl: pl.Float64 = pa.Field(nullable=True)
    base_unrealized_pnl: pl.Float64 = pa.Field(nullable=True)
    multiplier: pl.Float64 = pa.Field(nullable=True)
    strike: pl.Float64 = pa.Field(nullable=True)
    put_or_call: pl.Utf8 = pa.Field(nullable=True)
    expiry: pl.Utf8 = pa.Field(nullable=True)
    last_trading_day: pl.Utf8 = pa.Field(nullable=True)
    und_conid: pl.Int64 = pa.Field(nullable=True)
    ticker: pl.Utf8 = pa.Field(nullable=True)
    name: pl.Utf8 = pa.Field(nullable=True)
    full_name: pl.Utf8 = pa.Field(nullable=True)
    listing_exchange: pl.Utf8 = pa.Field(nullable=True)
    country_code: pl.Utf8 = pa.Field(nullable=True)
    sector: pl.Utf8 = pa.Field(nullable=True)
    sector_group: pl.Utf8 = pa.Field(nullable=True)
    group_name: pl.Utf8 = pa.Field(nullable=True)
    model: pl.Utf8 = pa.Field(nullable=False)  # "" for the account's own holdings (IBKR's default model)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    @pa.dataframe_check
    def has_security_definition(cls, data: PolarsData) -> pl.LazyFrame:
        """A row must say what it holds (ticker or name): a bare row is quarantined, never landed."""
        return data.lazyframe.select(pl.col("ticker").is_not_null() | pl.col("name").is_not_null())

    class Config:
        strict = True
        # One conid can be held through two model portfolios of one account (IBKR's `model` field).
        unique = ["snapshot_date", "account_id", "conid", "model"]
