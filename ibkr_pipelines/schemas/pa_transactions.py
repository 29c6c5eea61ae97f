"""`pa_transactions`: /pa/transactions (Portfolio Analyst), one row per transaction of one contract."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, DATE, FLOAT, INTEGER, TEXT, LoadStrategy, Reach, TableSpec, col

PA_TRANSACTIONS = TableSpec(
    name="pa_transactions",
    description="Buys, sells and other transactions per account, contract and date, from Portfolio Analyst.",
    source="POST /pa/transactions, one conid per call, days back to the window's start",
    columns=(
        col("trade_date", DATE, "Date of the transaction (rawDate YYYYMMDD; else the date text, "
            "e.g. 'Tue Mar 31 00:00:00 EDT 2026').", nullable=False),
        col("account_id", TEXT, "IBKR account id (acctid).", nullable=False),
        col("conid", BIGINT, "IBKR contract id (conid).", nullable=False),
        col("seq", INTEGER, "1-based order of the transaction within (account, conid, date), oldest first as IBKR "
            "lists them reversed: IBKR has no transaction id.", nullable=False),
        col("type", TEXT, "Kind of transaction as IBKR names it (type), e.g. Buy, Sell."),
        col("quantity", FLOAT, "Quantity (qty), negative for sells."),
        col("price", FLOAT, "Price per unit (pr), in the transaction's currency."),
        col("amount", FLOAT, "Amount of the transaction (amt), in its currency; negative when cash goes out."),
        col("currency", TEXT, "Currency of the transaction (cur)."),
        col("fx_rate", FLOAT, "Exchange rate to the account's base currency (fxRate)."),
        col("description", TEXT, "Description of the contract (desc)."),
        RAW_EXTRA,
    ),
    natural_key=("account_id", "conid", "trade_date", "seq"),
    load=LoadStrategy.REPLACE_WINDOW,
    partition_column="trade_date",
    slice_column="conid",
    reach=Reach.ANY,
)
