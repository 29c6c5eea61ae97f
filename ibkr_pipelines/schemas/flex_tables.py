"""The Flex tables, in landing order, for the registry to add in one line once a Flex source feeds them."""

from __future__ import annotations

from ibkr_pipelines.schemas.flex_cash_transactions import FLEX_CASH_TRANSACTIONS
from ibkr_pipelines.schemas.flex_conversion_rates import FLEX_CONVERSION_RATES
from ibkr_pipelines.schemas.flex_corporate_actions import FLEX_CORPORATE_ACTIONS
from ibkr_pipelines.schemas.flex_nav import FLEX_NAV
from ibkr_pipelines.schemas.flex_open_positions import FLEX_OPEN_POSITIONS
from ibkr_pipelines.schemas.flex_other_rows import FLEX_OTHER_ROWS
from ibkr_pipelines.schemas.flex_trades import FLEX_TRADES
from ibkr_pipelines.schemas.flex_transfers import FLEX_TRANSFERS
from ibkr_pipelines.schemas.spec import TableSpec

FLEX_TABLES: tuple[TableSpec, ...] = (
    FLEX_TRADES,
    FLEX_OPEN_POSITIONS,
    FLEX_CASH_TRANSACTIONS,
    FLEX_TRANSFERS,
    FLEX_CORPORATE_ACTIONS,
    FLEX_CONVERSION_RATES,
    FLEX_NAV,
    FLEX_OTHER_ROWS,
)
FLEX_SPECS: dict[str, TableSpec] = {spec.name: spec for spec in FLEX_TABLES}
