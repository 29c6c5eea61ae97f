"""`flex_open_positions`: Flex OpenPosition rows, one per account, report date and contract, with cost basis.

Key: (report_date, account_id, row_key), row_key ``conid:<conid>`` (else a content hash): a
statement reports each contract's position once per account and date. Only summary rows come here
(levelOfDetail SUMMARY, or none): a query set to lots adds one LOT row per tax lot repeating the
contract, and those go to `flex_other_rows` so positions are never counted twice.
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
from ibkr_pipelines.schemas.spec import BIGINT, FLOAT, TEXT, TIMESTAMP, col

FLEX_OPEN_POSITIONS = flex_table(
    name="flex_open_positions",
    description="Open positions per account and report date from Flex statements, with cost basis and "
    "unrealized P&L.",
    source=FLEX_SOURCE + ": OpenPositions/OpenPosition",
    columns=(
        REPORT_DATE,
        ACCOUNT_ID,
        ROW_KEY,
        LEVEL_OF_DETAIL,
        *contract_columns(),
        col("position", FLOAT, "Quantity held (position), negative when short."),
        col("side", TEXT, "Long or Short (side)."),
        col("mark_price", FLOAT, "Closing price used to value the position (markPrice)."),
        col("position_value", FLOAT, "Market value in the position's currency (positionValue)."),
        col("open_price", FLOAT, "Average open price (openPrice)."),
        col("cost_basis_price", FLOAT, "Cost basis per unit (costBasisPrice)."),
        col("cost_basis_money", FLOAT, "Total cost basis (costBasisMoney)."),
        col("percent_of_nav", FLOAT, "Share of the account's NAV, percent (percentOfNAV)."),
        col("fifo_pnl_unrealized", FLOAT, "Unrealized P&L, FIFO (fifoPnlUnrealized)."),
        col("accrued_interest", FLOAT, "Accrued interest of a bond position (accruedInt)."),
        col("open_time", TIMESTAMP, "When the position (or lot) was opened, UTC (openDateTime)."),
        col("holding_period_time", TIMESTAMP, "Start of the holding period, UTC (holdingPeriodDateTime)."),
        col("code", TEXT, "IBKR's codes for the position (code)."),
        col("originating_order_id", BIGINT, "Order that opened it (originatingOrderID)."),
        col("originating_transaction_id", TEXT, "Line that opened it (originatingTransactionID)."),
        *flex_trailer(),
    ),
    natural_key=("report_date", "account_id", "row_key"),
)
