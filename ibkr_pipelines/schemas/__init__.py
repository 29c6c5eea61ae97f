"""pandera (polars backend) models of every landed table, with their natural keys."""

from ibkr_pipelines.schemas.quarantine import LOAD_LOG_SCHEMA, QUARANTINE_SCHEMA
from ibkr_pipelines.schemas.registry import NATURAL_KEYS, SCHEMAS, SNAPSHOT_TABLES, polars_schema, schema_for

__all__ = [
    "LOAD_LOG_SCHEMA",
    "NATURAL_KEYS",
    "QUARANTINE_SCHEMA",
    "SCHEMAS",
    "SNAPSHOT_TABLES",
    "polars_schema",
    "schema_for",
]
