"""Which pandera model validates which landed table, its natural key, and its polars layout."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.account_summary import AccountSummarySchema
from ibkr_pipelines.schemas.accounts import AccountsSchema
from ibkr_pipelines.schemas.allocation import AllocationSchema
from ibkr_pipelines.schemas.contracts import ContractsSchema
from ibkr_pipelines.schemas.ledger import LedgerSchema
from ibkr_pipelines.schemas.positions import PositionsSchema

SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "accounts": AccountsSchema,
    "account_summary": AccountSummarySchema,
    "ledger": LedgerSchema,
    "positions": PositionsSchema,
    "allocation": AllocationSchema,
    "contracts": ContractsSchema,
}

# Tables replaced one snapshot_date at a time; `contracts` is merged on conid instead.
SNAPSHOT_TABLES: tuple[str, ...] = ("accounts", "account_summary", "ledger", "positions", "allocation")

NATURAL_KEYS: dict[str, list[str]] = {name: list(model.Config.unique) for name, model in SCHEMAS.items()}

# Columns analysts rely on: a landed row without them is a defect the warehouse checks report
# (a unique key and a row count did not notice positions landed without their security fields).
ANALYST_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("base_currency",),
    "positions": ("ticker", "asset_class", "currency", "mkt_value"),
    "contracts": ("ticker", "asset_class", "currency"),
}


def schema_for(table: str) -> type[pa.DataFrameModel]:
    """The pandera model of ``table``; a clear KeyError naming the known tables otherwise."""
    try:
        return SCHEMAS[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known tables: {', '.join(sorted(SCHEMAS))}") from None


def polars_schema(table: str) -> dict[str, pl.DataType]:
    """Column name -> polars dtype of ``table``, in landing order, so extractors build exact frames."""
    columns = schema_for(table).to_schema().columns
    return {name: column.dtype.type for name, column in columns.items()}
