"""`ledger`: /portfolio/{id}/ledger, one row per currency plus the ``BASE`` roll-up."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.types import UTC_TIMESTAMP

# Money columns of a ledger row, in the order they are landed.
LEDGER_AMOUNT_COLUMNS: tuple[str, ...] = (
    "cash_balance",
    "settled_cash",
    "net_liquidation_value",
    "exchange_rate",
    "stock_market_value",
    "stock_option_market_value",
    "future_market_value",
    "future_option_market_value",
    "futures_only_pnl",
    "corporate_bonds_market_value",
    "tbonds_market_value",
    "tbills_market_value",
    "warrants_market_value",
    "issuer_options_market_value",
    "commodity_market_value",
    "money_funds",
    "crypto_value",
    "interest",
    "dividends",
    "unrealized_pnl",
    "realized_pnl",
    "funds",
    "cash_balance_fx_segment",
)


class LedgerSchema(pa.DataFrameModel):
    """Cash and market values of one account in one currency (or ``BASE``) on one snapshot date."""

    snapshot_date: pl.Date = pa.Field(nullable=False)
    account_id: pl.Utf8 = pa.Field(nullable=False)
    currency: pl.Utf8 = pa.Field(nullable=False)
    cash_balance: pl.Float64 = pa.Field(nullable=True)
    settled_cash: pl.Float64 = pa.Field(nullable=True)
    net_liquidation_value: pl.Float64 = pa.Field(nullable=True)
    exchange_rate: pl.Float64 = pa.Field(nullable=True)
    stock_market_value: pl.Float64 = pa.Field(nullable=True)
    stock_option_market_value: pl.Float64 = pa.Field(nullable=True)
    future_market_value: pl.Float64 = pa.Field(nullable=True)
    future_option_market_value: pl.Float64 = pa.Field(nullable=True)
    futures_only_pnl: pl.Float64 = pa.Field(nullable=True)
    corporate_bonds_market_value: pl.Float64 = pa.Field(nullable=True)
    tbonds_market_value: pl.Float64 = pa.Field(nullable=True)
    tbills_market_value: pl.Float64 = pa.Field(nullable=True)
    warrants_market_value: pl.Float64 = pa.Field(nullable=True)
    issuer_options_market_value: pl.Float64 = pa.Field(nullable=True)
    commodity_market_value: pl.Float64 = pa.Field(nullable=True)
    money_funds: pl.Float64 = pa.Field(nullable=True)
    crypto_value: pl.Float64 = pa.Field(nullable=True)
    interest: pl.Float64 = pa.Field(nullable=True)
    dividends: pl.Float64 = pa.Field(nullable=True)
    unrealized_pnl: pl.Float64 = pa.Field(nullable=True)
    realized_pnl: pl.Float64 = pa.Field(nullable=True)
    funds: pl.Float64 = pa.Field(nullable=True)
    cash_balance_fx_segment: pl.Float64 = pa.Field(nullable=True)
    reported_at: UTC_TIMESTAMP = pa.Field(nullable=True)
    raw_extra: pl.Utf8 = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["snapshot_date", "account_id", "currency"]
