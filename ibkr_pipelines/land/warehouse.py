"""The DuckDB warehouse: schema from sql/, idempotent partition loads, read-only queries.

DuckDB lets one process write a file at a time, so every write opens the file with lock retry
(backoff up to a timeout, then a clear error) and holds it only for one load. Each load is one
transaction: a snapshot table's partition is deleted and re-inserted; `contracts` is merged on
conid; the partition's quarantine rows are replaced; a `_load_log` row is appended. Re-running a
partition therefore leaves the data tables exactly as they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import polars as pl

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import partition_key_of
from ibkr_pipelines.schemas import SCHEMAS, SNAPSHOT_TABLES

log = logging.getLogger(__name__)

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


class WarehouseLocked(IbkrPipelinesError):
    """Another process kept the DuckDB file locked for longer than the lock timeout."""


class LoadError(IbkrPipelinesError):
    """A partition could not be loaded (wrong partition dates, missing columns, unknown table)."""


@dataclass(frozen=True)
class LoadResult:
    """What one partition load did: rows now in the partition, rows replaced, rows quarantined."""

    table: str
    partition_key: str
    rows: int
    replaced: int
    quarantined: int


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _merge_select(alias: str, columns: Sequence[str]) -> str:
    """Column list for a merged contract row: attributes from ``alias``, widest seen-date range."""
    picked = []
    for name in columns:
        if name == "first_seen_date":
            picked.append("least(i.first_seen_date, c.first_seen_date) AS first_seen_date")
        elif name == "last_seen_date":
            picked.append("greatest(i.last_seen_date, c.last_seen_date) AS last_seen_date")
        else:
            picked.append(f"{alias}.{_quote(name)}")
    return ", ".join(picked)


def _is_lock_error(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


class Warehouse:
    """One DuckDB file: writes with lock retry in single transactions, reads read-only."""

    def __init__(
        self,
        db_path: Path | str,
        sql_dir: Path | str | None = None,
        *,
        lock_timeout: float = 60.0,
        first_backoff: float = 0.05,
        max_backoff: float = 2.0,
    ) -> None:
        """Point at ``db_path`` (created on first write) and the ``sql/`` folder with ddl/ and views/."""
        self.db_path = Path(db_path)
        self.sql_dir = Path(sql_dir) if sql_dir is not None else DEFAULT_SQL_DIR
        self.lock_timeout = lock_timeout
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.lock_waits = 0  # how many times a connect had to wait for the lock (for metadata/tests)

    # -- connections -------------------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        backoff = self.first_backoff
        while True:
            try:
                con = duckdb.connect(str(self.db_path), read_only=read_only)
                con.execute("SET TimeZone = 'UTC'")  # TIMESTAMP columns hold UTC wall-clock time
                return con
            except Exception as error:  # noqa: BLE001 - only lock errors are retried
                if not _is_lock_error(error):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    mode = "read-only" if read_only else "read-write"
                    raise WarehouseLocked(
                        f"could not open {self.db_path} {mode}: another process held its lock for more than "
                        f"{self.lock_timeout:g}s (only one DuckDB writer at a time; DuckDB said: {error})"
                    ) from None
                self.lock_waits += 1
                log.info("DuckDB file %s is locked; retrying in %.2fs", self.db_path, min(backoff, remaining))
                time.sleep(min(backoff, remaining))
                backoff = min(backoff * 2, self.max_backoff)

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection (waiting out another process's lock), closed on exit."""
        if not read_only:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.db_path.exists():
            raise FileNotFoundError(f"no warehouse at {self.db_path}; load something first")
        con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    # -- schema --------------------------------------------------------------------------------

    def sql_files(self) -> list[Path]:
        """The DDL files then the view files, each folder in name order."""
        ddl = sorted((self.sql_dir / "ddl").glob("*.sql"))
        views = sorted((self.sql_dir / "views").glob("*.sql"))
        if not ddl:
            raise FileNotFoundError(f"no DDL files in {self.sql_dir / 'ddl'}")
        return ddl + views

    def ensure_schema(self) -> None:
        """Create missing tables (sql/ddl) and (re)create the views (sql/views), in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for path in self.sql_files():
                    con.execute(path.read_text(encoding="utf-8"))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # -- loads ---------------------------------------------------------------------------------

    def load_partition(
        self,
        table: str,
        partition_key: dt.date | str,
        parquet_path: Path | str,
        run_id: str,
        *,
        quarantine: Path | str | pl.DataFrame | None = None,
    ) -> LoadResult:
        """Load one lake partition into ``table`` in one transaction (idempotent); returns counts.

        ``quarantine`` (a parquet file or frame shaped like the `quarantine` table) replaces the
        table's quarantine rows for this partition; None clears them.
        """
        if table not in SCHEMAS:
            raise LoadError(f"unknown table {table!r}; known tables: {', '.join(sorted(SCHEMAS))}")
        key = partition_key_of(partition_key)
        source = str(Path(parquet_path))
        if not Path(source).is_file():
            raise LoadError(f"{table} {key}: no parquet file at {source}")
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                columns = self._columns(con, table)
                select = ", ".join(_quote(c) for c in columns)
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {select} "
                    "FROM read_parquet(?, hive_partitioning = false)",
                    [source],
                )
                if table in SNAPSHOT_TABLES:
                    rows, replaced = self._replace_snapshot(con, table, key, columns)
                else:
                    rows, replaced = self._merge_contracts(con, columns)
                quarantined = self._replace_quarantine(con, table, key, run_id, quarantine)
                con.execute(
                    "INSERT INTO _load_log (table_name, partition_key, rows, quarantined, lake_path, run_id, loaded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [table, key, rows, quarantined, source, run_id, dt.datetime.now(dt.timezone.utc)],
                )
                con.execute("DROP TABLE _incoming")
                con.execute("COMMIT")
            except duckdb.BinderException as error:
                con.execute("ROLLBACK")
                raise LoadError(f"{table} {key}: {source} does not match the table: {error}") from None
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return LoadResult(table=table, partition_key=key, rows=rows, replaced=replaced, quarantined=quarantined)

    @staticmethod
    def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        found = con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if not found:
            raise LoadError(f"table {table!r} does not exist; call ensure_schema() first")
        return [name for (name,) in found]

    @staticmethod
    def _replace_snapshot(
        con: duckdb.DuckDBPyConnection, table: str, key: str, columns: Sequence[str]
    ) -> tuple[int, int]:
        (wrong,) = con.execute(
            "SELECT count(*) FROM _incoming WHERE snapshot_date IS DISTINCT FROM CAST(? AS DATE)", [key]
        ).fetchone()
        if wrong:
            raise LoadError(f"{table} {key}: {wrong} rows carry another snapshot_date than the partition")
        (replaced,) = con.execute(
            f"SELECT count(*) FROM {_quote(table)} WHERE snapshot_date = CAST(? AS DATE)", [key]
        ).fetchone()
        con.execute(f"DELETE FROM {_quote(table)} WHERE snapshot_date = CAST(? AS DATE)", [key])
        cols = ", ".join(_quote(c) for c in columns)
        con.execute(f"INSERT INTO {_quote(table)} ({cols}) SELECT {cols} FROM _incoming")
        (rows,) = con.execute("SELECT count(*) FROM _incoming").fetchone()
        return int(rows), int(replaced)

    @staticmethod
    def _merge_contracts(con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> tuple[int, int]:
        """Type-1 merge on conid: newest sighting's attributes win, first_seen_date stays the earliest.

        Loading an older day after a newer one only moves first_seen_date, so any load order of the
        same days gives the same table.
        """
        (dupes,) = con.execute("SELECT count(*) - count(DISTINCT conid) FROM _incoming").fetchone()
        if dupes:
            raise LoadError(f"contracts: {dupes} duplicate conids in the incoming file (validate first)")
        cols = ", ".join(_quote(c) for c in columns)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _merged AS
            SELECT {cols} FROM _incoming AS i
            WHERE NOT EXISTS (SELECT 1 FROM contracts AS c WHERE c.conid = i.conid)
            UNION ALL
            SELECT {_merge_select('i', columns)} FROM _incoming AS i JOIN contracts AS c ON c.conid = i.conid
            WHERE i.last_seen_date >= c.last_seen_date
            UNION ALL
            SELECT {_merge_select('c', columns)} FROM _incoming AS i JOIN contracts AS c ON c.conid = i.conid
            WHERE i.last_seen_date < c.last_seen_date
            """
        )
        (replaced,) = con.execute(
            "SELECT count(*) FROM contracts WHERE conid IN (SELECT conid FROM _incoming)"
        ).fetchone()
        con.execute("DELETE FROM contracts WHERE conid IN (SELECT conid FROM _incoming)")
        con.execute(f"INSERT INTO contracts ({cols}) SELECT {cols} FROM _merged")
        con.execute("DROP TABLE _merged")
        (rows,) = con.execute("SELECT count(*) FROM _incoming").fetchone()
        return int(rows), int(replaced)

    @staticmethod
    def _replace_quarantine(
        con: duckdb.DuckDBPyConnection,
        table: str,
        key: str,
        run_id: str,
        quarantine: Path | str | pl.DataFrame | None,
    ) -> int:
        con.execute("DELETE FROM quarantine WHERE table_name = ? AND partition_key = ?", [table, key])
        if quarantine is None:
            return 0
        if isinstance(quarantine, pl.DataFrame):
            if quarantine.height == 0:
                return 0
            con.register("_quarantine_in", quarantine.to_arrow())
            source, params = "_quarantine_in", []
        else:
            source, params = "read_parquet(?, hive_partitioning = false)", [str(quarantine)]
        try:
            con.execute(
                "INSERT INTO quarantine (table_name, partition_key, row_number, reason, row_json, run_id, quarantined_at) "
                f"SELECT ?, ?, row_number, reason, row_json, coalesce(run_id, ?), "
                f"coalesce(quarantined_at, now()) FROM {source}",
                [table, key, run_id, *params],
            )
        finally:
            if isinstance(quarantine, pl.DataFrame):
                con.unregister("_quarantine_in")
        (count,) = con.execute(
            "SELECT count(*) FROM quarantine WHERE table_name = ? AND partition_key = ?", [table, key]
        ).fetchone()
        return int(count)

    # -- reads ---------------------------------------------------------------------------------

    def query_readonly(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query on a read-only connection; returns (column names, rows)."""
        with self.connect(read_only=True) as con:
            cursor = con.execute(sql, list(params) if params else None)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()
