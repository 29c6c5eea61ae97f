"""``ibkr-pipelines rebuild``: replay the raw archive into the lake and DuckDB, and say what landed."""

from __future__ import annotations

import datetime as dt
import logging
import sys

from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.rebuild import rebuild
from ibkr_pipelines.sources import nightly_tables
from ibkr_pipelines.staging import Storage
from ibkr_pipelines.windows import DateWindow


def run_rebuild(tables: list[str] | None, start: dt.date | None, end: dt.date | None) -> int:
    """Rebuild ``tables`` (all when None) over ``start``..``end`` (every archived window when None); 0 on success."""
    known = nightly_tables()
    unknown = [t for t in tables or [] if t not in known]
    if unknown:
        raise ConfigError("--table", f"unknown table(s) {unknown}; choose from {', '.join(known)}")
    window = DateWindow.from_flags(start, end)
    settings = Settings.from_env()
    progress = logging.getLogger("ibkr_pipelines.progress")
    progress.setLevel(logging.INFO)
    summaries = rebuild(Storage.at(settings.data_dir, lock_timeout=settings.warehouse_lock_seconds), tables, window,
                        settings=settings)
    landed: dict[str, int] = {}
    for summary in summaries:
        landed[summary.table] = landed.get(summary.table, 0) + summary.rows
    print(f"Rebuilt from the raw archive into {settings.db_path} (no IBKR request):")
    for table, rows in landed.items():
        print(f"  {table:<16} {rows:>7} rows")
    sys.stdout.flush()
    return 0
