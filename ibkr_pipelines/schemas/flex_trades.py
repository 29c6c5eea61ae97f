"""`flex_trades`: Flex Trade rows (Activity) and TradeConfirm rows (Trade Confirmation), one per execution line.

Key: (account_id, row_key), row_key being ``txn:<transactionID>`` when the row has one, else
``trade:<tradeID>``, else ``exec:<execID>``, else a content hash. Why transactionID first: in an
Activity statement a trade, its cancellation (``transactionType`` TradeCancel, notes ``Ca``, an
empty tradeID, ``origTradeID`` naming the original) and its replacement are three lines with three
transactionIDs, so keying on tradeID would merge or drop them. Trade Confirmation rows have no
transactionID; their tradeID is one per execution. An execution seen in both an Activity and a Trade
Confirmation report therefore lands twice, told apart by ``element``; ``exec_id`` (IBKR's execution
id, the Web API's execution_id) links the two.

Only execution lines come here: SymbolSummary, AssetSummary, Order and Lot rows (and Trade rows
whose levelOfDetail is not EXECUTION) are summaries of these lines and go to `flex_other_rows`.
"""

from __future__ import annotations

from ibkr_pipelines.schemas.flex_common import (
    ACCOUNT_ID,
    FLEX_SOURCE,
    LEVEL_OF_DETAIL,
    REPORT_DATE,
    ROW_KEY,
    contract_columns,
    flex_table,
    flex_trailer,
)
from ibkr_pipelines.schemas.spec import (
    BIGINT,
    BOOLEAN,
    DATE,
    FLOAT,
    TEXT,
    TIMESTAMP,
    col,
)

FLEX_TRADES = flex_table(
    name="flex_trades",
    description="Executions, cancellations and corrections per account from Flex statements (Trade, TradeConfirm), "
    "back to the account's opening.",
    source=FLEX_SOURCE + ": Trades/Trade (Activity), TradeConfirms/TradeConfirm (Trade Confirmation)",
    columns=(
        REPORT_DATE,
        ACCOUNT_ID,
        ROW_KEY,
        col("element", TEXT, "Trade (Activity statement) or TradeConfirm (Trade Confirmation report).", nullable=False),
        col("transaction_id", TEXT, "IBKR's id of this statement line (transactionID); Activity rows only."),
        col("trade_id", TEXT, "IBKR's trade id (tradeID); empty on a cancellation line."),
        col("exec_id", TEXT, "IBKR's execution id (ibExecID, TCF: execID), as the Web API's execution_id."),
        col("order_id", BIGINT, "IBKR order id (ibOrderID, TCF: orderID)."),
        col("brokerage_order_id", TEXT, "Brokerage order id (brokerageOrderID)."),
        col("order_reference", TEXT, "The client's order reference (orderReference)."),
        col("transaction_type", TEXT, "Kind of line (transactionType): ExchTrade, TradeCancel, TradeCorrect, "
            "BookTrade, FracShare, ..."),
        col("notes", TEXT, "IBKR's codes for the line, ';'-separated (notes, TCF: code), e.g. O, C, Ca (cancelled), "
            "P (partial)."),
        col("orig_trade_id", TEXT, "The trade a cancellation or correction refers to (origTradeID)."),
        col("orig_transaction_id", TEXT, "The line a cancellation refers to (origTransactionID)."),
        col("orig_trade_date", DATE, "Trade date of the original trade (origTradeDate)."),
        col("orig_trade_price", FLOAT, "Price of the original trade (origTradePrice)."),
        LEVEL_OF_DETAIL,
        *contract_columns(),
        col("trade_date", DATE, "Trade date (tradeDate)."),
        col("trade_time", TIMESTAMP, "When the execution happened, UTC (dateTime; New York time when it names "
            "no zone)."),
        col("settle_date", DATE, "Settlement date (settleDateTarget, TCF: settleDate)."),
        col("order_time", TIMESTAMP, "When the order was placed, UTC (orderTime)."),
        col("exchange", TEXT, "Where it executed (exchange)."),
        col("buy_sell", TEXT, "BUY or SELL as IBKR writes it (buySell), e.g. 'SELL (Ca.)' on a cancellation."),
        col("quantity", FLOAT, "Quantity (quantity): negative for sells in Activity rows, unsigned in TCF rows."),
        col("price", FLOAT, "Execution price (tradePrice, TCF: price)."),
        col("trade_money", FLOAT, "Quantity x price x multiplier (tradeMoney, TCF: amount)."),
        col("proceeds", FLOAT, "Proceeds (proceeds), negative for buys."),
        col("taxes", FLOAT, "Taxes (taxes, TCF: tax)."),
        col("commission", FLOAT, "Commission, negative when charged (ibCommission, TCF: commission)."),
        col("commission_currency", TEXT, "Currency of the commission (ibCommissionCurrency, TCF: "
            "commissionCurrency)."),
        col("net_cash", FLOAT, "Net cash of the line (netCash)."),
        col("close_price", FLOAT, "Closing price of the trade date (closePrice)."),
        col("open_close", TEXT, "O (opening), C (closing) or C;O (openCloseIndicator)."),
        col("cost", FLOAT, "Cost basis of the line (cost)."),
        col("fifo_pnl_realized", FLOAT, "Realized P&L, FIFO (fifoPnlRealized)."),
        col("fx_pnl", FLOAT, "FX P&L (fxPnl)."),
        col("mtm_pnl", FLOAT, "Mark-to-market P&L (mtmPnl)."),
        col("order_type", TEXT, "Order type (orderType), e.g. LMT, MKT."),
        col("is_api_order", BOOLEAN, "Placed through an API (isAPIOrder Y/N)."),
        col("accrued_interest", FLOAT, "Accrued interest of a bond trade (accruedInt)."),
        *flex_trailer(),
    ),
    natural_key=("account_id", "row_key"),
    analyst_columns=("trade_date", "quantity", "price"),
    views=("realized_pnl_by_year",),
)
