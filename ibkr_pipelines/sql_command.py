"""``ibkr-pipelines sql``: one read-only query against the warehouse, printed as a table.

The connection is read-only and sandboxed (no file writes, no ATTACH, no extension installs), and it
waits for a running load to release the file as the loads themselves do (IBKR_WAREHOUSE_LOCK_SECONDS).
"""

from __future__ import annotations

import duckdb

from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError, IbkrPipelinesError
from ibkr_pipelines.land.warehouse import Warehouse


def run_sql(query: str, *, max_rows: int = 50) -> int:
    """Open the warehouse read-only and sandboxed (safe beside a running load) and print the query's result."""
    settings = Settings.from_env()
    if not settings.db_path.exists():
        raise ConfigError("IBKR_DATA_DIR", f"no warehouse at {settings.db_path}: run `ibkr-pipelines ingest` first")
    warehouse = Warehouse(settings.db_path, lock_timeout=settings.warehouse_lock_seconds)
    try:
        with warehouse.connect(read_only=True, sandboxed=True) as con:
            relation = con.sql(query)
            if relation is None:
                print("ok (the statement returned no rows)")
            else:
                relation.show(max_rows=max_rows, max_width=200)
    except duckdb.Error as exc:
        raise IbkrPipelinesError(f"query failed: {str(exc).splitlines()[0]}") from None
    return 0
