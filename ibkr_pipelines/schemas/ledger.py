"""`ledger`: /portfolio/{id}/ledger, one row per currency plus the ``BASE`` roll-up."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, TIMESTAMP, Column, LoadStrategy, Reach, TableSpec, col


def _money(name: str, meaning: str) -> Column:
    return col(name, FLOAT, f"{meaning}, in the row's currency (BASE: the account's base currency).")


LEDGER = TableSpec(
    name="ledger",
    description="Cash and market values per account, date and currency, plus the BASE roll-up (net liquidation value).",
    source="GET /portfolio/{accountId}/ledger",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("account_id", TEXT, "IBKR account id.", nullable=False),
        col("currency", TEXT, "Currency of the row, or BASE for the account's roll-up in its base currency.",
            nullable=False),
        _money("cash_balance", "Cash balance (cashbalance)"),
        _money("settled_cash", "Settled cash (settledcash)"),
        _money("net_liquidation_value", "Net liquidation value (netliquidationvalue): the account's NAV on BASE"),
        col("exchange_rate", FLOAT, "Units of base currency per unit of this currency (exchangerate)."),
        _money("stock_market_value", "Market value of stocks (stockmarketvalue)"),
        _money("stock_option_market_value", "Market value of stock options (stockoptionmarketvalue)"),
        _money("future_market_value", "Market value of futures (futuremarketvalue)"),
        _money("future_option_market_value", "Market value of futures options (futureoptionmarketvalue)"),
        _money("futures_only_pnl", "Futures P&L (futuresonlypnl)"),
        _money("corporate_bonds_market_value", "Market value of corporate bonds (corporatebondsmarketvalue)"),
        _money("tbonds_market_value", "Market value of treasury bonds (tbondsmarketvalue)"),
        _money("tbills_market_value", "Market value of treasury bills (tbillsmarketvalue)"),
        _money("warrants_market_value", "Market value of warrants (warrantsmarketvalue)"),
        _money("issuer_options_market_value", "Market value of issuer options (issueroptionsmarketvalue)"),
        _money("commodity_market_value", "Market value of commodities (commoditymarketvalue)"),
        _money("money_funds", "Money market funds (moneyfunds)"),
        _money("crypto_value", "Crypto currency value (cryptocurrencyvalue)"),
        _money("interest", "Accrued interest (interest)"),
        _money("dividends", "Accrued dividends (dividends)"),
        _money("unrealized_pnl", "Unrealized P&L (unrealizedpnl)"),
        _money("realized_pnl", "Realized P&L (realizedpnl)"),
        _money("funds", "Funds (funds)"),
        _money("cash_balance_fx_segment", "Cash in the FX segment (cashbalancefxsegment)"),
        col("reported_at", TIMESTAMP, "When IBKR computed the row, UTC (timestamp, epoch seconds)."),
        RAW_EXTRA,
    ),
    natural_key=("snapshot_date", "account_id", "currency"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
)
