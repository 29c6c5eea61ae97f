"""`executions`: /iserver/account/trades, one row per execution (fill) of the last 7 days."""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import (
    BIGINT,
    BOOLEAN,
    DATE,
    FLOAT,
    TEXT,
    TIMESTAMP,
    FrameCheck,
    LoadStrategy,
    Reach,
    TableSpec,
    col,
)

EXECUTIONS = TableSpec(
    name="executions",
    description="Executions (fills) per account, as IBKR's trades endpoint lists them for the last 7 days.",
    source="GET /iserver/account/trades?days=7&accountId={accountId} (an empty first answer is read once more)",
    columns=(
        col("trade_date", DATE, "New York calendar date of trade_time; IBKR's 7-day window counts these days.",
            nullable=False),
        col("execution_id", TEXT, "IBKR's execution id (execution_id), unique per fill.", nullable=False),
        col("account_id", TEXT, "IBKR account id (account, else accountCode).", nullable=False),
        col("conid", BIGINT, "IBKR contract id (conid).", nullable=False),
        col("symbol", TEXT, "Symbol of the contract (symbol)."),
        col("sec_type", TEXT, "Security type (sec_type), e.g. STK, OPT, FUT."),
        col("side", TEXT, "B (buy) or S (sell), from side's B/S/BOT/SLD/BUY/SELL/BOUGHT/SOLD; anything else is "
            "quarantined.", nullable=False),
        col("quantity", FLOAT, "Executed quantity (size), positive for buys and sells alike.", nullable=False),
        col("price", FLOAT, "Execution price in the contract's currency (price; IBKR sends text or a number).",
            nullable=False),
        col("commission", FLOAT, "Commission charged (commission, text on the wire), in the trade's currency."),
        col("net_amount", FLOAT, "Net amount of the execution (net_amount), in the trade's currency."),
        col("trade_time", TIMESTAMP, "When the execution happened, UTC (trade_time_r epoch ms; else trade_time "
            "YYYYMMDD-HH:MM:SS read as UTC).", nullable=False),
        col("exchange", TEXT, "Exchange the execution happened on (exchange)."),
        col("listing_exchange", TEXT, "Primary listing exchange of the contract (listing_exchange)."),
        col("order_id", BIGINT, "IBKR order id the execution filled (order_id)."),
        col("order_ref", TEXT, "The client's order reference (order_ref)."),
        col("order_description", TEXT, "IBKR's text of the fill, e.g. 'Sold 5 @ 192.26 on ISLAND' (order_description)."),
        col("company_name", TEXT, "Company name (company_name)."),
        col("contract_description", TEXT, "IBKR's short contract description (contract_description_1)."),
        col("submitter", TEXT, "User that submitted the order (submitter)."),
        col("clearing_id", TEXT, "Clearing firm id (clearing_id), e.g. IB."),
        col("liquidation_trade", BOOLEAN, "A liquidation by IBKR (liquidation_trade, \"1\"/\"0\")."),
        RAW_EXTRA,
    ),
    natural_key=("execution_id",),
    load=LoadStrategy.UPSERT,
    partition_column="trade_date",
    slice_column="account_id",
    reach=Reach.RECENT,
    reach_days=7,  # "days can be at most 7 (today plus 6 previous days)": reference §2.6
    analyst_columns=("conid", "side", "quantity", "price", "trade_time"),
    frame_checks=(
        FrameCheck(
            "quantity_positive",
            "An execution's size is positive whatever its side; zero or negative is quarantined.",
            lambda frame: frame.select(pl.col("quantity").is_null() | (pl.col("quantity") > 0)),
        ),
    ),
    views=("trade_blotter", "daily_trading_summary"),
)
