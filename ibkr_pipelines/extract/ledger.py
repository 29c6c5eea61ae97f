"""Ledger: /portfolio/{id}/ledger (keyed by currency plus BASE) into one row per currency."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import (
    as_date,
    as_float,
    col,
    extra_json,
    from_epoch_auto,
    map_record,
    rows_to_frame,
)

TABLE = "ledger"

_COLUMNS = (
    col("cash_balance", "cashbalance", convert=as_float),
    col("settled_cash", "settledcash", convert=as_float),
    col("net_liquidation_value", "netliquidationvalue", convert=as_float),
    col("exchange_rate", "exchangerate", convert=as_float),
    col("stock_market_value", "stockmarketvalue", convert=as_float),
    col("stock_option_market_value", "stockoptionmarketvalue", convert=as_float),
    col("future_market_value", "futuremarketvalue", convert=as_float),
    col("future_option_market_value", "futureoptionmarketvalue", convert=as_float),
    col("futures_only_pnl", "futuresonlypnl", convert=as_float),
    col("corporate_bonds_market_value", "corporatebondsmarketvalue", convert=as_float),
    col("tbonds_market_value", "tbondsmarketvalue", convert=as_float),
    col("tbills_market_value", "tbillsmarketvalue", convert=as_float),
    col("warrants_market_value", "warrantsmarketvalue", convert=as_float),
    col("issuer_options_market_value", "issueroptionsmarketvalue", convert=as_float),
    col("commodity_market_value", "commoditymarketvalue", convert=as_float),
    col("money_funds", "moneyfunds", convert=as_float),
    col("crypto_value", "cryptocurrencyvalue", convert=as_float),
    col("interest", convert=as_float),
    col("dividends", convert=as_float),
    col("unrealized_pnl", "unrealizedpnl", convert=as_float),
    col("realized_pnl", "realizedpnl", convert=as_float),
    col("funds", convert=as_float),
    col("cash_balance_fx_segment", "cashbalancefxsegment", convert=as_float),
    col("reported_at", "timestamp", convert=from_epoch_auto),
)


def parse_ledger(body: Any, *, account_id: str, snapshot_date: dt.date | str) -> pl.DataFrame:
    """A ledger object -> one `ledger` row per currency key (including ``BASE``)."""
    day = as_date(snapshot_date)
    rows: list[dict[str, Any]] = []
    if isinstance(body, Mapping):
        for currency, entry in body.items():
            if not isinstance(entry, Mapping):
                rows.append({"snapshot_date": day, "account_id": account_id, "currency": currency,
                             "raw_extra": extra_json({"value": entry})})
                continue
            # `currency` repeats the key and `acctcode` the account; keep them only if they disagree.
            row, extra = map_record(entry, _COLUMNS, consumed=("currency", "acctcode"))
            if entry.get("currency") not in (None, currency):
                extra["currency"] = entry.get("currency")
            if entry.get("acctcode") not in (None, account_id):
                extra["acctcode"] = entry.get("acctcode")
            row.update(snapshot_date=day, account_id=account_id, currency=currency, raw_extra=extra_json(extra))
            rows.append(row)
    return rows_to_frame(TABLE, rows)


def fetch_ledger(client: ApiClient, account_id: str, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Call /portfolio/{id}/ledger for one account and return its `ledger` rows."""
    body = client.get(f"/portfolio/{account_id}/ledger")
    return parse_ledger(body, account_id=account_id, snapshot_date=snapshot_date)
