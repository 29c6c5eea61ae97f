"""`flex_corporate_actions`: Flex CorporateAction rows: splits, mergers, spin-offs, symbol and ISIN changes.

Key: (account_id, row_key), row_key ``txn:<transactionID>`` else a content hash (IBKR leaves
transactionID empty on summary rows).
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
from ibkr_pipelines.schemas.spec import DATE, FLOAT, TEXT, TIMESTAMP, col

FLEX_CORPORATE_ACTIONS = flex_table(
    name="flex_corporate_actions",
    description="Corporate actions on each account's holdings, from Flex statements.",
    source=FLEX_SOURCE + ": CorporateActions/CorporateAction",
    columns=(
        REPORT_DATE,
        ACCOUNT_ID,
        ROW_KEY,
        col("transaction_id", TEXT, "IBKR's id of this line (transactionID)."),
        col("action_id", TEXT, "IBKR's id of the corporate action (actionID), shared by its lines."),
        col("type", TEXT, "Kind of action (type), e.g. FS forward split, RS reverse split, TC merger, IC ISIN change."),
        col("action_description", TEXT, "IBKR's text of the action (actionDescription)."),
        col("event_date", DATE, "Date of the action (dateTime's date)."),
        col("event_time", TIMESTAMP, "Time of the action, UTC, when dateTime has one."),
        *contract_columns(),
        col("quantity", FLOAT, "Quantity added or removed (quantity)."),
        col("amount", FLOAT, "Cash amount (amount)."),
        col("proceeds", FLOAT, "Proceeds (proceeds)."),
        col("value", FLOAT, "Value (value)."),
        col("fifo_pnl_realized", FLOAT, "Realized P&L, FIFO (fifoPnlRealized)."),
        col("mtm_pnl", FLOAT, "Mark-to-market P&L (mtmPnl)."),
        col("code", TEXT, "IBKR's codes for the line (code)."),
        LEVEL_OF_DETAIL,
        *flex_trailer(),
    ),
    natural_key=("account_id", "row_key"),
)
