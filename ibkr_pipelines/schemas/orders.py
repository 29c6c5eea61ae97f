"""`orders`: /iserver/account/orders, the orders of the brokerage session (and open ones) per snapshot date."""

from __future__ import annotations

from ibkr_pipelines.schemas.shared import RAW_EXTRA
from ibkr_pipelines.schemas.spec import BIGINT, DATE, FLOAT, TEXT, TIMESTAMP, LoadStrategy, Reach, TableSpec, col

ORDERS = TableSpec(
    name="orders",
    description="Orders IBKR lists for the brokerage session (plus open ones) on each snapshot date, with fills so far.",
    source="GET /iserver/account/orders (after a pre-flight call with force=true); at most 1000 orders",
    columns=(
        col("snapshot_date", DATE, "The trading date (New York) the snapshot describes.", nullable=False),
        col("order_id", BIGINT, "IBKR order id (orderId).", nullable=False),
        col("account_id", TEXT, "IBKR account id (acct, else account).", nullable=False),
        col("conid", BIGINT, "IBKR contract id (conid)."),
        col("symbol", TEXT, "Ticker symbol (ticker)."),
        col("sec_type", TEXT, "Security type (secType), e.g. STK."),
        col("side", TEXT, "B (buy) or S (sell), from side's BUY/SELL/B/S; null when IBKR sends anything else."),
        col("status", TEXT, "Order status as IBKR names it (status): Inactive, PendingSubmit, PreSubmitted, Submitted, "
            "Filled, PendingCancel, Cancelled, WarnState.", nullable=False),
        col("order_ccp_status", TEXT, "Status at IBKR's order server (order_ccp_status)."),
        col("order_type", TEXT, "Order type (orderType), e.g. Market, Limit."),
        col("orig_order_type", TEXT, "Order type as first submitted (origOrderType), e.g. MARKET."),
        col("time_in_force", TEXT, "Time in force (timeInForce), e.g. DAY, GTC, CLOSE."),
        col("limit_price", FLOAT, "Limit price (price; \"\" for market orders becomes null)."),
        col("avg_price", FLOAT, "Average fill price (avgPrice, text on the wire)."),
        col("total_size", FLOAT, "Quantity ordered (totalSize)."),
        col("filled_quantity", FLOAT, "Quantity filled so far (filledQuantity)."),
        col("remaining_quantity", FLOAT, "Quantity still open (remainingQuantity)."),
        col("total_cash_size", FLOAT, "Cash amount ordered, for cash-quantity orders (totalCashSize)."),
        col("cash_currency", TEXT, "Currency of the order's cash amounts (cashCcy)."),
        col("listing_exchange", TEXT, "Primary listing exchange (listingExchange)."),
        col("company_name", TEXT, "Company name (companyName)."),
        col("description", TEXT, "IBKR's text of the order, e.g. 'Bought 1 SPY Market, Day' (orderDesc)."),
        col("order_ref", TEXT, "The client's order reference (order_ref)."),
        col("last_execution_time", TIMESTAMP, "Last fill of the order, UTC (lastExecutionTime_r epoch ms; else "
            "lastExecutionTime YYMMDDhhmmss, assumed UTC)."),
        RAW_EXTRA,
    ),
    natural_key=("snapshot_date", "order_id"),
    load=LoadStrategy.UPSERT,
    partition_column="snapshot_date",
    slice_column="account_id",
    reach=Reach.CURRENT,
)
