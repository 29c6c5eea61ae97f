"""`accounts`: one row per account per snapshot date (from /portfolio/accounts and /subaccounts)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.types import UTC_TIMESTAMP


class AccountsSchema(pa.DataFrameModel):
    """The accounts a session can see, with their type, base currency and FA parent."""

    snapshot_date: pl.Date = pa.Field(nullable=False)
    account_id: pl.Utf8 = pa.Field(nullable=False)
    account_title: pl.Utf8 = pa.Field(nullable=True)
    display_name: pl.Utf8 = pa.Field(nullable=True)
    account_alias: pl.Utf8 = pa.Field(nullable=True)
    account_type: pl.Utf8 = pa.Field(nullable=True)
    base_currency: pl.Utf8 = pa.Field(nullable=True)
    trading_type: pl.Utf8 = pa.Field(nullable=True)
    business_type: pl.Utf8 = pa.Field(nullable=True)
    ib_entity: pl.Utf8 = pa.Field(nullable=True)
    cust_type: pl.Utf8 = pa.Field(nullable=True)
    clearing_status: pl.Utf8 = pa.Field(nullable=True)
    is_fa_client: pl.Boolean = pa.Field(nullable=True)
    is_master: pl.Boolean = pa.Field(nullable=True)
    parent_account_id: pl.Utf8 = pa.Field(nullable=True)
    brokerage_access: pl.Boolean = pa.Field(nullable=True)
    account_status_at: UTC_TIMESTAMP = pa.Field(nullable=True)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["snapshot_date", "account_id"]
