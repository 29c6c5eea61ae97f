"""`positions`: /portfolio/{id}/positions/{page}, one row per account, contract and model."""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, DATE, FLOAT, TEXT, FrameCheck, LoadStrategy, Reach, TableSpec, col

POSITIONS = TableSpec(
    name="positions",
    description="Open positions per account and date with local and base-currency values and the security definition.",
    source="GET /portfolio/{accountId}/positions/{page} (after POST .../positions/invalidate), gaps from /trsrv/secdef",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("account_id", TEXT, "IBKR account id.", nullable=False),
        col("conid", BIGINT, "IBKR contract id.", nullable=False),
        col("contract_desc", TEXT, "IBKR's short description of the contract (contractDesc)."),
        col("asset_class", TEXT, "STK, OPT, FUT, BOND, CASH (virtual FX: cash already in the ledger)..."),
        col("sec_type", TEXT, "Security type detail (type), e.g. COMMON, ETF."),
        col("position", FLOAT, "Quantity held; negative when short."),
        col("mkt_price", FLOAT, "Market price, in the contract's currency."),
        col("mkt_value", FLOAT, "Market value in the contract's currency (for FUT: the notional, not equity)."),
        col("currency", TEXT, "The contract's currency."),
        col("avg_cost", FLOAT, "Average cost per unit, multiplier included, in the contract's currency."),
        col("avg_price", FLOAT, "Average price per unit, in the contract's currency."),
        col("realized_pnl", FLOAT, "Realized P&L, in the contract's currency."),
        col("unrealized_pnl", FLOAT, "Unrealized P&L, in the contract's currency."),
        col("base_mkt_value", FLOAT, "Market value in the account's base currency."),
        col("base_mkt_price", FLOAT, "Market price in the account's base currency."),
        col("base_avg_cost", FLOAT, "Average cost in the account's base currency."),
        col("base_avg_price", FLOAT, "Average price in the account's base currency."),
        col("base_realized_pnl", FLOAT, "Realized P&L in the account's base currency."),
        col("base_unrealized_pnl", FLOAT, "Unrealized P&L in the account's base currency."),
        col("multiplier", FLOAT, "Contract multiplier (null or 0 for stocks: kept as IBKR sends it)."),
        col("strike", FLOAT, "Option strike (IBKR sends a number or text)."),
        col("put_or_call", TEXT, "P or C for options."),
        col("expiry", TEXT, "Expiry as IBKR writes it (YYYYMMDD)."),
        col("last_trading_day", TEXT, "Last trading day as IBKR writes it."),
        col("und_conid", BIGINT, "Underlying contract id of a derivative."),
        col("ticker", TEXT, "Ticker symbol."),
        col("name", TEXT, "Instrument name."),
        col("full_name", TEXT, "Full instrument name."),
        col("listing_exchange", TEXT, "Primary listing exchange."),
        col("country_code", TEXT, "Country of the listing."),
        col("sector", TEXT, "Sector."),
        col("sector_group", TEXT, "Sector group."),
        col("group_name", TEXT, "Industry group (group)."),
        col("model", TEXT, "Model portfolio the position is held through; '' for the account's own holdings.",
            nullable=False),
        RAW_EXTRA,
    ),
    # One conid can be held through two model portfolios of one account (IBKR's `model` field).
    natural_key=("snapshot_date", "account_id", "conid", "model"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
    analyst_columns=("ticker", "asset_class", "currency", "mkt_value"),
    frame_checks=(
        FrameCheck(
            "has_security_definition",
            "A row must say what it holds (ticker or name): a bare row is quarantined, never landed.",
            lambda frame: frame.select(pl.col("ticker").is_not_null() | pl.col("name").is_not_null()),
        ),
    ),
)
