"""`flex_other_rows`: every Flex row of a section no other table models, with all its attributes as JSON.

Nothing in a statement is lost: sections the tables do not model (AccountInformation, CashReport,
SecuritiesInfo, InterestAccruals, FxPositions, ...), sections IBKR adds later, and the summary rows
of modelled sections (Trades' SymbolSummary, AssetSummary, Order and Lot rows, TradeConfirms'
SymbolSummary and Order rows, OpenPositions' LOT rows) land here, and so does each statement
itself (section and element FlexStatement: its period, and the query's name and type), so a
statement without rows (a closed account's) is still seen. Key: (account_id, section, element,
row_key), row_key ``<statement account>:<fromDate>..<toDate>#<n>``: the statement as written and the
row's rank among the rows of its element in that statement's section, so a re-import of a statement
replaces its rows rather than adding to them.
"""

from __future__ import annotations

from ibkr_pipelines.schemas.flex_common import ACCOUNT_ID, FLEX_SOURCE, STATEMENT_COLUMNS, flex_table
from ibkr_pipelines.schemas.spec import DATE, TEXT, col

FLEX_OTHER_ROWS = flex_table(
    frame_checks=(),
    name="flex_other_rows",
    description="Rows of Flex sections no other flex_ table models (and summary rows of those it does), "
    "attributes as JSON.",
    source=FLEX_SOURCE + ": any section",
    columns=(
        col("report_date", DATE, "The row's reportDate when it has one that "
            "reads, else its statement's toDate.", nullable=False),
        ACCOUNT_ID,
        col("section", TEXT, "The statement section the row is in, e.g. SecuritiesInfo, Trades.", nullable=False),
        col("element", TEXT, "The row's element, e.g. SecurityInfo, SymbolSummary, Lot.", nullable=False),
        col("row_key", TEXT, "The statement's account and dates as written and the row's rank, e.g. "
            "'U1234567:20250101..20251231#3'.", nullable=False),
        col("level_of_detail", TEXT, "IBKR's levelOfDetail, when the row has one."),
        col("attributes", TEXT, "Every attribute of the row as JSON {attribute: value as sent}.", nullable=False),
        *STATEMENT_COLUMNS,
    ),
    natural_key=("account_id", "section", "element", "row_key"),
)
