"""The registry of table specs: which tables exist, and the views of them the rest of the code reads.

Adding a table is adding its spec here (and an extractor that builds its frames): the lake, the
warehouse, the DDL, the checks and the Dagster assets follow from the spec.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.account_summary import ACCOUNT_SUMMARY
from ibkr_pipelines.schemas.accounts import ACCOUNTS
from ibkr_pipelines.schemas.allocation import ALLOCATION
from ibkr_pipelines.schemas.bars import BARS
from ibkr_pipelines.schemas.contracts import CONTRACTS
from ibkr_pipelines.schemas.executions import EXECUTIONS
from ibkr_pipelines.schemas.flex_tables import FLEX_TABLES
from ibkr_pipelines.schemas.funding_instructions import FUNDING_INSTRUCTIONS
from ibkr_pipelines.schemas.ledger import LEDGER
from ibkr_pipelines.schemas.nav_daily import NAV_DAILY
from ibkr_pipelines.schemas.orders import ORDERS
from ibkr_pipelines.schemas.pa_transactions import PA_TRANSACTIONS
from ibkr_pipelines.schemas.positions import POSITIONS
from ibkr_pipelines.schemas.quarantine import DATASETS_TABLE, LOAD_LOG, QUARANTINE
from ibkr_pipelines.schemas.returns_daily import RETURNS_DAILY
from ibkr_pipelines.schemas.spec import TableSpec
from ibkr_pipelines.schemas.statements import STATEMENTS
from ibkr_pipelines.schemas.watchlist import WATCHLIST

# The data tables, in landing order.
TABLES: dict[str, TableSpec] = {
    s.name: s
    for s in (
        ACCOUNTS, ACCOUNT_SUMMARY, LEDGER, POSITIONS, ALLOCATION, CONTRACTS,
        EXECUTIONS, ORDERS, NAV_DAILY, RETURNS_DAILY, PA_TRANSACTIONS, WATCHLIST, BARS, *FLEX_TABLES, STATEMENTS,
        FUNDING_INSTRUCTIONS,
    )
}
# Tables the warehouse keeps for itself.
BOOKKEEPING: dict[str, TableSpec] = {s.name: s for s in (QUARANTINE, LOAD_LOG, DATASETS_TABLE)}


def register(spec: TableSpec) -> TableSpec:
    """Add a data table (a new dataset's spec, or a test's); returns it."""
    TABLES[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a data table added with ``register`` (tests clean up after themselves)."""
    TABLES.pop(name, None)


def spec_for(table: str) -> TableSpec:
    """The spec of ``table``; a clear KeyError naming the known tables otherwise."""
    found = TABLES.get(table) or BOOKKEEPING.get(table)
    if found is None:
        raise KeyError(f"unknown table {table!r}; known tables: {', '.join(sorted(TABLES))}")
    return found


# Built once per spec (building one costs milliseconds, and a window validates every date of every table).
_SCHEMAS: dict[int, tuple[TableSpec, pa.DataFrameSchema]] = {}


def schema_for(table: str) -> pa.DataFrameSchema:
    """The pandera schema validating ``table``'s extracted frames (made once per spec)."""
    spec = spec_for(table)
    cached = _SCHEMAS.get(id(spec))
    if cached is None or cached[0] is not spec:  # a spec registered again under the same id() is rebuilt
        cached = _SCHEMAS[id(spec)] = (spec, spec.pandera_schema())
    return cached[1]


def polars_schema(table: str) -> dict[str, pl.DataType]:
    """Column name -> polars dtype of ``table``, in landing order, so extractors build exact frames."""
    return spec_for(table).polars_schema()


def natural_key(table: str) -> list[str]:
    """The natural key of ``table``."""
    return list(spec_for(table).natural_key)
