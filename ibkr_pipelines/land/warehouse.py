"""The DuckDB warehouse: schema from sql/, idempotent partition loads, read-only queries.

DuckDB lets one process hold a file at a time (readers of other processes included), so every
connection opens the file with lock retry (backoff up to a timeout, logging who holds it, then a
clear error) and holds it only for one load. Each load is one transaction: the slice of a snapshot
partition the extraction covered (a date, or a date and some accounts) is deleted and re-inserted;
`contracts` is merged on conid; the partition's quarantine rows are replaced; a `_load_log` row is
appended. Re-running a partition therefore leaves the data tables exactly as they were.

A load never silently shrinks what is landed: when an account's slice would go from rows to none,
or to less than half, the load is refused with one line unless ``allow_shrink`` says the source is
right (positions really closed), so an extraction that went wrong cannot wipe good data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
import polars as pl

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import PartitionSlice, partition_key_of, read_slice
from ibkr_pipelines.schemas import SCHEMAS, SNAPSHOT_TABLES

log = logging.getLogger(__name__)

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


class WarehouseLocked(IbkrPipelinesError):
    """Another process kept the DuckDB file locked for longer than the lock timeout."""

    retryable = True


class LoadError(IbkrPipelinesError):
    """A partition could not be loaded (wrong partition dates, missing columns, unknown table)."""


class ShrinkRefused(LoadError):
    """A load would replace landed rows with far fewer; refused unless the caller allows it."""


# A load is refused when a slice would lose every row, or (from SHRINK_MIN_ROWS landed rows on)
# more than half of them: guards against a broken extraction, not statistics about accounts.
SHRINK_FLOOR = 0.5
SHRINK_MIN_ROWS = 10


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


# DuckDB settings that leave a read-only connection able to read this database and nothing else
# (the configuration is locked right after the session's time zone is set).
SANDBOX: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _is_lock_error(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def lock_holder(error: Exception) -> str:
    """Who holds the DuckDB file, from DuckDB's lock error ("python3 (PID 1234)"), or "another process"."""
    found = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", str(error))
    if not found:
        return "another process"
    return f"{Path(found.group(1)).name} (PID {found.group(2)})"


def shrink_problem(table: str, key: str, who: str, landed: int, incoming: int) -> str | None:
    """Why replacing ``landed`` rows by ``incoming`` looks like data loss (None when it does not)."""
    if landed == 0 or (incoming > 0 and (landed < SHRINK_MIN_ROWS or incoming >= landed * SHRINK_FLOOR)):
        return None
    return (
        f"{table} {key}: refusing to replace {landed} landed row(s){who} with {incoming}: IBKR returned far fewer "
        "than before; if that is right (e.g. positions closed), re-run with --allow-shrink (IBKR_ALLOW_SHRINK=true)"
    )


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
        self.lock_wait_seconds = 0.0  # and how long in all

    # -- connections -------------------------------------------------------------------------

    def _open(self, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        began = time.monotonic()
        deadline = began + self.lock_timeout
        backoff = self.first_backoff
        announced = False
        try:
            while True:
                try:
                    con = duckdb.connect(str(self.db_path), read_only=read_only, config=config or {})
                    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMP columns hold UTC wall-clock time
                    if config is SANDBOX:
                        con.execute("SET lock_configuration = true")  # after the time zone: nothing else moves
                    return con
                except Exception as error:  # noqa: BLE001 - only lock errors are retried
                    if not _is_lock_error(error):
                        raise
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise WarehouseLocked(
                            f"{self.db_path} stayed locked by {lock_holder(error)} for {self.lock_timeout:g} s "
                            "(DuckDB allows one process at a time; IBKR_WAREHOUSE_LOCK_SECONDS sets the wait)"
                        ) from None
                    if not announced:
                        log.warning("waiting for %s: %s holds it", self.db_path, lock_holder(error))
                        announced = True
                    self.lock_waits += 1
                    time.sleep(min(backoff, remaining))
                    backoff = min(backoff * 2, self.max_backoff)
        finally:
            if announced:
                self.lock_wait_seconds += time.monotonic() - began

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False, sandboxed: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection (waiting out another process's lock), closed on exit.

        ``sandboxed`` (read-only only) also forbids touching anything but this file: no COPY TO, no
        ATTACH, no reading other files, no extension installs; the setting itself is locked.
        """
        if not read_only:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.db_path.exists():
            raise FileNotFoundError(f"no warehouse at {self.db_path}; load something first")
        config = SANDBOX if sandboxed and read_only else None
        con = self._open(read_only, config)
        try:
            yield con
        finally:
            con.close()

    # -- schema --------------------------------------------------------------------------------

    def ddl_files(self) -> list[Path]:
        """The table definitions (sql/ddl), in name order."""
        ddl = sorted((self.sql_dir / "ddl").glob("*.sql"))
        if not ddl:
            raise FileNotFoundError(f"no DDL files in {self.sql_dir / 'ddl'}")
        return ddl

    def view_files(self) -> list[Path]:
        """The analyst views (sql/views), in name order (later views may read earlier ones)."""
        return sorted((self.sql_dir / "views").glob("*.sql"))

    def sql_files(self) -> list[Path]:
        """The DDL files then the view files, each folder in name order."""
        return self.ddl_files() + self.view_files()

    def ensure_schema(self) -> None:
        """Create missing tables (sql/ddl), list the data tables, (re)create the views (sql/views): one transaction."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for path in self.ddl_files():
                    con.execute(path.read_text(encoding="utf-8"))
                self._list_datasets(con)
                for path in self.view_files():
                    con.execute(path.read_text(encoding="utf-8"))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _list_datasets(con: duckdb.DuckDBPyConnection) -> None:
        """Refresh `_datasets`: every data table with the first line of its schema's description."""
        con.execute("DELETE FROM _datasets")
        for table, model in SCHEMAS.items():
            description = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else None
            con.execute("INSERT INTO _datasets VALUES (?, ?)", [table, description])

    # -- loads ---------------------------------------------------------------------------------

    def load_partition(
        self,
        table: str,
        partition_key: dt.date | str,
        parquet_path: Path | str,
        run_id: str,
        *,
        quarantine: Path | str | pl.DataFrame | None = None,
        allow_shrink: bool = False,
    ) -> LoadResult:
        """Load one lake partition into ``table`` in one transaction (idempotent); returns counts.

        ``quarantine`` (a parquet file or frame shaped like the `quarantine` table) replaces the
        table's quarantine rows for this partition; None clears them. The slice the file covers
        (its metadata) is what a snapshot load replaces; ``allow_shrink`` lets it shrink a lot.
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
                    covered = read_slice(source)
                    rows, replaced = self._replace_snapshot(con, table, key, columns, covered, allow_shrink)
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
        con: duckdb.DuckDBPyConnection,
        table: str,
        key: str,
        columns: Sequence[str],
        covered: PartitionSlice | None,
        allow_shrink: bool,
    ) -> tuple[int, int]:
        """Replace the covered slice of one snapshot date (the whole date when the file names none)."""
        (wrong,) = con.execute(
            "SELECT count(*) FROM _incoming WHERE snapshot_date IS DISTINCT FROM CAST(? AS DATE)", [key]
        ).fetchone()
        if wrong:
            raise LoadError(f"{table} {key}: {wrong} rows carry another snapshot_date than the partition")
        where, params = "snapshot_date = CAST(? AS DATE)", [key]
        if covered is not None:
            column = _quote(covered.column)
            (outside,) = con.execute(
                f"SELECT count(*) FROM _incoming WHERE {column} IS NULL OR NOT list_contains(?, {column})",
                [list(covered.values)],
            ).fetchone()
            if outside:
                raise LoadError(f"{table} {key}: {outside} rows fall outside the {covered.column}s the file covers")
            where += f" AND list_contains(?, {column})"
            params.append(list(covered.values))
        if not allow_shrink:
            Warehouse._refuse_shrink(con, table, key, where, params, covered)
        (replaced,) = con.execute(f"SELECT count(*) FROM {_quote(table)} WHERE {where}", params).fetchone()
        con.execute(f"DELETE FROM {_quote(table)} WHERE {where}", params)
        cols = ", ".join(_quote(c) for c in columns)
        con.execute(f"INSERT INTO {_quote(table)} ({cols}) SELECT {cols} FROM _incoming")
        (rows,) = con.execute("SELECT count(*) FROM _incoming").fetchone()
        return int(rows), int(replaced)

    @staticmethod
    def _refuse_shrink(
        con: duckdb.DuckDBPyConnection,
        table: str,
        key: str,
        where: str,
        params: list[Any],
        covered: PartitionSlice | None,
    ) -> None:
        """Raise ``ShrinkRefused`` when a covered slice (or the whole date) would lose most of its rows."""
        if covered is None:
            (landed,) = con.execute(f"SELECT count(*) FROM {_quote(table)} WHERE {where}", params).fetchone()
            (incoming,) = con.execute("SELECT count(*) FROM _incoming").fetchone()
            problem = shrink_problem(table, key, "", int(landed), int(incoming))
            if problem:
                raise ShrinkRefused(problem)
            return
        column = _quote(covered.column)
        counts = con.execute(
            f"""
            SELECT landed.value, landed.n, coalesce(incoming.n, 0)
            FROM (SELECT {column} AS value, count(*) AS n FROM {_quote(table)} WHERE {where} GROUP BY 1) AS landed
            LEFT JOIN (SELECT {column} AS value, count(*) AS n FROM _incoming GROUP BY 1) AS incoming
              ON incoming.value = landed.value
            ORDER BY 1
            """,
            params,
        ).fetchall()
        for value, landed, incoming in counts:
            problem = shrink_problem(table, key, f" of {value}", int(landed), int(incoming))
            if problem:
                raise ShrinkRefused(problem)

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
