from __future__ import annotations

import polars as pl

from ibkr_pipelines.schemas import LOAD_LOG_SCHEMA, QUARANTINE_SCHEMA, SCHEMAS, polars_schema

SQL_TYPES = {pl.Utf8: "VARCHAR", pl.Int64: "BIGINT", pl.Int32: "INTEGER", pl.Float64: "DOUBLE",
             pl.Boolean: "BOOLEAN", pl.Date: "DATE"}


def _sql_type(dtype: pl.DataType) -> str:
    return "TIMESTAMP" if isinstance(dtype, pl.Datetime) else SQL_TYPES[dtype.base_type()]


def test_ddl_matches_the_pandera_schemas(landing):
    expected = {t: polars_schema(t) for t in SCHEMAS}
    expected["quarantine"] = QUARANTINE_SCHEMA
    expected["_load_log"] = LOAD_LOG_SCHEMA
    for table, schema in expected.items():
        found = landing.rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_name = '{table}' ORDER BY ordinal_position"
        )
        assert found == [(name, _sql_type(dtype)) for name, dtype in schema.items()], table
