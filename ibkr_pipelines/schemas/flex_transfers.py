"""`flex_transfers`: Flex Transfer rows: positions and cash moved in or out (ACATS, internal, FOP).

Key: (account_id, row_key), row_key ``txn:<transactionID>`` else a content hash. A transfer
between two of the user's own accounts appears once in each account's statement (direction OUT in
one, IN in the other, ``counterparty_account`` naming the other): both rows are kept, since the
key includes the account even should IBKR give both sides one transactionID.
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

FLEX_TRANSFERS = flex_table(
    name="flex_transfers",
    description="Transfers of positions and cash in and out of each account, from Flex statements.",
    source=FLEX_SOURCE + ": Transfers/Transfer",
    columns=(
        REPORT_DATE,
        ACCOUNT_ID,
        ROW_KEY,
        col("transaction_id", TEXT, "IBKR's id of this line (transactionID)."),
        col("type", TEXT, "Kind of transfer (type), e.g. INTERNAL, ACATS, FOP."),
        col("direction", TEXT, "IN or OUT (direction)."),
        col("counterparty_account", TEXT, "The other account (account); one of the user's own for INTERNAL."),
        col("counterparty_name", TEXT, "Name of the other account (accountName)."),
        col("company", TEXT, "The other broker or company (company)."),
        col("delivering_broker", TEXT, "Broker delivering the position (deliveringBroker)."),
        col("event_date", DATE, "Date of the transfer (date, else dateTime's date)."),
        col("event_time", TIMESTAMP, "Time of the transfer, UTC, when dateTime has one."),
        col("settle_date", DATE, "Settlement date (settleDate)."),
        *contract_columns(),
        col("quantity", FLOAT, "Quantity moved (quantity), signed as IBKR writes it."),
        col("transfer_price", FLOAT, "Price the transfer is booked at (transferPrice)."),
        col("position_amount", FLOAT, "Value of the position moved (positionAmount)."),
        col("position_amount_in_base", FLOAT, "That value in base currency (positionAmountInBase)."),
        col("cash_transfer", FLOAT, "Cash moved (cashTransfer)."),
        col("pnl_amount", FLOAT, "P&L booked by the transfer (pnlAmount)."),
        col("code", TEXT, "IBKR's codes for the line (code)."),
        col("client_reference", TEXT, "Client reference (clientReference)."),
        LEVEL_OF_DETAIL,
        *flex_trailer(),
    ),
    natural_key=("account_id", "row_key"),
)
