"""Hand-made rows into a test warehouse, and query results as dicts, for the view tests."""

from __future__ import annotations

from typing import Any

from ibkr_pipelines.land.warehouse import Warehouse


def insert_rows(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert each row (only the columns it names) into ``table``."""
    with warehouse.connect() as con:
        for row in rows:
            names = ", ".join(f'"{k}"' for k in row)
            con.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(row))})', list(row.values()))


def query_dicts(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    """The rows of a read-only query, each as {column: value}."""
    columns, rows = warehouse.query_readonly(sql)
    return [dict(zip(columns, row)) for row in rows]
