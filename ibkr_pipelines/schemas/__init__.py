"""The table specs (one per landed table) and the registry the rest of the code reads them from."""

from ibkr_pipelines.schemas.quarantine import LOAD_LOG_SCHEMA, QUARANTINE_SCHEMA
from ibkr_pipelines.schemas.registry import BOOKKEEPING, TABLES, natural_key, polars_schema, schema_for, spec_for
from ibkr_pipelines.schemas.spec import Column, LoadStrategy, Reach, TableSpec

__all__ = [
    "BOOKKEEPING",
    "Column",
    "LOAD_LOG_SCHEMA",
    "LoadStrategy",
    "QUARANTINE_SCHEMA",
    "Reach",
    "TABLES",
    "TableSpec",
    "natural_key",
    "polars_schema",
    "schema_for",
    "spec_for",
]
