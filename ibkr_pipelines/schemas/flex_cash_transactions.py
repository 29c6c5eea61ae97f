"""`flex_cash_transactions`: Flex CashTransaction rows: dividends, payments in lieu, withholding tax, fees, interest.

Key: (account_id, row_key), row_key ``txn:<transactionID>``, else a hash of the row's modelled
attributes (reportDate and amount among them). A withholding-tax adjustment IBKR reports late
(old ``dateTime``, new ``reportDate``) is a line of its own with its own transactionID, so it
never replaces the original; without transactionIDs the hash still differs by reportDate and
amount, and a re-import of the same file gives the same keys. A dividend paid partly as an
ordinary dividend and partly as a payment in lieu (shares on loan) is two lines, told apart by
``type``/``category``. Rows of every levelOfDetail are kept (summary rows carry no transactionID):
sums should read one level, normally DETAIL.
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

FLEX_CASH_TRANSACTIONS = flex_table(
    name="flex_cash_transactions",
    description="Cash movements per account from Flex statements: dividends, payments in lieu, withholding tax, "
    "fees (advisor fees included), interest, deposits and withdrawals.",
    source=FLEX_SOURCE + ": CashTransactions/CashTransaction",
    columns=(
        REPORT_DATE,
        ACCOUNT_ID,
        ROW_KEY,
        col("transaction_id", TEXT, "IBKR's id of this line (transactionID)."),
        col("type", TEXT, "IBKR's type as sent (type), e.g. Dividends, Payment In Lieu Of Dividends, Withholding Tax."),
        col("category", TEXT, "type normalised: dividend, payment_in_lieu, withholding_tax, interest, fee, "
            "advisor_fee, commission_adjustment, deposit_withdrawal, other.", nullable=False),
        col("amount", FLOAT, "Amount in currency (amount): positive received, negative paid."),
        col("event_date", DATE, "Date of the event (dateTime's date); older than report_date for a late "
            "adjustment."),
        col("event_time", TIMESTAMP, "Time of the event, UTC, when dateTime has one."),
        col("settle_date", DATE, "Settlement date (settleDate)."),
        col("ex_date", DATE, "Ex-dividend date (exDate)."),
        col("available_for_trading_date", DATE, "When the cash can be traded (availableForTradingDate)."),
        *contract_columns(),
        col("trade_id", TEXT, "Trade the line belongs to (tradeID)."),
        col("action_id", TEXT, "Corporate action the line belongs to (actionID); ties a dividend to its tax."),
        col("client_reference", TEXT, "Client reference (clientReference)."),
        col("code", TEXT, "IBKR's codes for the line (code)."),
        LEVEL_OF_DETAIL,
        *flex_trailer(),
    ),
    natural_key=("account_id", "row_key"),
    analyst_columns=("amount", "currency"),
    views=("dividends_and_withholding", "fees_and_interest"),
)
