"""The DuckDB warehouse: tables from the specs, idempotent window loads, read-only queries.

DuckDB lets one process hold a file at a time (readers of other processes included), and within a
process no reader beside a writer, so every connection opens the file with lock retry (backoff up to a timeout, logging who holds it, then a
clear error) and holds it only for one load. Tables are created from their specs (with column
comments; columns a spec gained since are added), and the analyst views from ``sql/views``.

A load takes a window of lake partitions (one date, or every date of a backfill) and merges them in
ONE transaction, each date as its table's load strategy says (``merge``): so a backfill is one write,
and a crash leaves the table as before. Each date's quarantine rows are replaced and a `_load_log`
row appended. Re-running a window leaves the data tables exactly as they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import duckdb
import polars as pl
import pyarrow.parquet as pq

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import partition_key_of, read_slice
from ibkr_pipelines.land.merge import LoadError, ShrinkRefused, merge, quote, upsert_window
from ibkr_pipelines.schemas import BOOKKEEPING, TABLES, spec_for
from ibkr_pipelines.schemas.spec import LoadStrategy, TableSpec, sql_type

log = logging.getLogger(__name__)

DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# DuckDB's memory for one load (it spills to disk past it), and the rows an upsert takes in at a time:
# together they keep a backfill's loading process bounded (benchmarks/market_data).
LOAD_MEMORY_LIMIT = "256MB"
UPSERT_CHUNK_ROWS = 500_000


def _chunks_of_rows(parts: Sequence["WindowPart"], budget: int) -> list[list[int]]:
    """The parts' indexes in order, grouped so a group holds about ``budget`` rows (a part is never split)."""
    groups: list[list[int]] = [[]]
    held = 0
    for index, part in enumerate(parts):
        rows = pq.ParquetFile(part.path).metadata.num_rows
        if groups[-1] and held + rows > budget:
            groups.append([])
            held = 0
        groups[-1].append(index)
        held += rows
    return groups
# (warehouse file, schema fingerprint) this process has made: a run's later loads check that every
# table and view is there (one query) instead of repeating ~0.3 s of CREATE/ALTER/COMMENT/views.
_SCHEMAS_ENSURED: set[tuple[str, str]] = set()
_VIEW_NAME = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
__all__ = ["LoadError", "LoadResult", "ShrinkRefused", "Warehouse", "WarehouseLocked", "WindowPart"]


class WarehouseLocked(IbkrPipelinesError):
    """Another process kept the DuckDB file locked for longer than the lock timeout."""

    retryable = True


@dataclass(frozen=True)
class LoadResult:
    """What one partition load did: rows now in the partition, rows replaced, rows quarantined."""

    table: str
    partition_key: str
    rows: int
    replaced: int
    quarantined: int


@dataclass(frozen=True)
class WindowPart:
    """One date of a window to load: its lake file and its quarantine (a file, a frame, or none)."""

    key: str
    path: Path
    quarantine: Path | pl.DataFrame | None = None


# DuckDB settings that leave a read-only connection able to read this database and nothing else
# (the configuration is locked right after the session's time zone is set).
SANDBOX: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _is_lock_error(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def _held_in_this_process(error: Exception) -> bool:
    # DuckDB keeps one database instance per file per process: a read-only connection and a writer
    # (or a sandboxed reader) cannot be open in one process at once. A check step reading the file
    # beside a load step in the threaded executor met this and failed the load (a 60 s retry).
    return isinstance(error, duckdb.ConnectionException) and "different configuration" in str(error)


def lock_holder(error: Exception) -> str:
    """Who holds the DuckDB file, from DuckDB's lock error ("python3 (PID 1234)"), or "another process"."""
    if _held_in_this_process(error):
        return "another connection of this process"
    found = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", str(error))
    if not found:
        return "another process"
    return f"{Path(found.group(1)).name} (PID {found.group(2)})"


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
        """Point at ``db_path`` (created on first write) and the ``sql/`` folder holding views/."""
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
                    if not (_is_lock_error(error) or _held_in_this_process(error)):
                        raise
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise WarehouseLocked(
                            f"{self.db_path} stayed locked by {lock_holder(error)} for {self.lock_timeout:g} s "
                            "(DuckDB allows one process at a time; IBKR_WAREHOUSE_LOCK_SECONDS sets the wait)"
                        ) from None
                    if not announced:
                        # A step of this run beside another is routine; another process is worth a line.
                        level = logging.DEBUG if _held_in_this_process(error) else logging.WARNING
                        log.log(level, "waiting for %s: %s holds it", self.db_path, lock_holder(error))
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

    # -- schema ------------------------------------------------------------------------------

    def view_files(self) -> list[Path]:
        """The analyst views (sql/views), in name order (later views may read earlier ones)."""
        return sorted((self.sql_dir / "views").glob("*.sql"))

    def ensure_schema(self, nightly: Iterable[str] | None = None) -> None:
        """Create the tables from their specs (adding columns a spec gained), list them, (re)create the views.

        ``nightly`` names the tables every night lands (load_status expects them for each date); a
        targeted table (e.g. pa_transactions) is listed but not expected. None: every table.
        """
        with self.connect() as con:
            self.ensure_schema_in(con, nightly)

    def ensure_schema_in(self, con: duckdb.DuckDBPyConnection, nightly: Iterable[str] | None = None) -> None:
        """ensure_schema on ``con``, a write connection outside a transaction: a load ensures in its own connection.

        Opening the file costs more than the check (~25 ms against ~5), so a load opens it once.
        """
        every_night = set(TABLES if nightly is None else nightly)
        views = [path.read_text(encoding="utf-8") for path in self.view_files()]
        fingerprint = _schema_fingerprint(every_night, views)
        if (self._key(), fingerprint) in _SCHEMAS_ENSURED and _complete(con, views):
            return  # this process made this schema here, and every table and view is still there
        con.execute("BEGIN TRANSACTION")
        try:
            for spec in (*TABLES.values(), *BOOKKEEPING.values()):
                self._create(con, spec)
            con.execute('DELETE FROM "_datasets"')
            con.executemany(
                'INSERT INTO "_datasets" (table_name, description, nightly) VALUES (?, ?, ?)',
                [[s.name, s.description, s.name in every_night] for s in TABLES.values()],
            )
            for view in views:
                con.execute(view)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        _SCHEMAS_ENSURED.add((self._key(), fingerprint))

    def _key(self) -> str:
        """The warehouse file, as this process's memo of made schemas names it."""
        return str(self.db_path.resolve())

    @staticmethod
    def _create(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
        """Create ``spec``'s table if missing, add the columns it lacks, and write its comments."""
        con.execute(spec.create_sql())
        present = {
            name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [spec.name]
            ).fetchall()
        }
        for column in spec.columns:
            if column.name not in present:  # a column the spec gained since the table was made
                con.execute(f"ALTER TABLE {quote(spec.name)} ADD COLUMN {quote(column.name)} {sql_type(column.dtype)}")
        for statement in spec.comment_sql():
            con.execute(statement)

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
        """Load one lake partition into ``table`` in one transaction (a window of one date)."""
        part = WindowPart(partition_key_of(partition_key), Path(parquet_path),
                          Path(quarantine) if isinstance(quarantine, str) else quarantine)
        return self.load_window(table, [part], run_id, allow_shrink=allow_shrink)[0]

    def load_window(
        self,
        table: str,
        parts: Sequence[WindowPart],
        run_id: str,
        *,
        allow_shrink: bool = False,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> list[LoadResult]:
        """Load every date of a window into ``table`` in ONE transaction; returns one result per date.

        Each date merges as the table's spec says; its quarantine rows are replaced (None clears
        them) and a `_load_log` row appended. Any failure rolls the whole window back. ``con``: a
        write connection of this warehouse to load in (outside a transaction); None opens one.
        """
        spec = spec_for(table)
        for part in parts:
            if not part.path.is_file():
                raise LoadError(f"{table} {part.key}: no parquet file at {part.path}")
        results = []
        with contextlib.nullcontext(con) if con is not None else self.connect() as con:
            # A window of millions of rows is joined on its key: DuckDB spills past this instead of
            # growing the loading process (see benchmarks/market_data).
            con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
            con.execute("BEGIN TRANSACTION")
            try:
                columns = self._columns(con, table)
                select = ", ".join(quote(c) for c in columns)
                merged: dict[int, tuple[int, int]] = {}
                if spec.load is LoadStrategy.UPSERT:
                    merged = self._upsert_window(con, spec, parts, columns, select)
                for index, part in enumerate(parts):
                    key = partition_key_of(part.key)
                    if spec.load is LoadStrategy.UPSERT:
                        rows, replaced = merged.get(index, (0, 0))
                    else:
                        con.execute(
                            f"CREATE OR REPLACE TEMP TABLE _incoming AS SELECT {select} "
                            "FROM read_parquet(?, hive_partitioning = false)",
                            [str(part.path)],
                        )
                        rows, replaced = merge(con, spec, key, columns, read_slice(part.path), allow_shrink)
                        con.execute("DROP TABLE _incoming")
                    quarantined = self._replace_quarantine(con, table, key, run_id, part.quarantine)
                    con.execute(
                        "INSERT INTO _load_log (table_name, partition_key, rows, quarantined, lake_path, run_id, "
                        "loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [table, key, rows, quarantined, str(part.path), run_id, dt.datetime.now(dt.timezone.utc)],
                    )
                    results.append(LoadResult(table, key, rows, replaced, quarantined))
                con.execute("COMMIT")
            except duckdb.BinderException as error:
                con.execute("ROLLBACK")
                raise LoadError(f"{table}: a lake file does not match the table: {error}") from None
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return results

    @staticmethod
    def _upsert_window(con: duckdb.DuckDBPyConnection, spec: TableSpec, parts: Sequence[WindowPart],
                       columns: Sequence[str], select: str) -> dict[int, tuple[int, int]]:
        """The parts upserted in date order, a few dates at a time (about UPSERT_CHUNK_ROWS), read straight
        from Parquet; per part index: rows, replaced. A later chunk's DELETE removes an earlier date's row
        of the same key, so later dates win across chunks as within one."""
        merged: dict[int, tuple[int, int]] = {}
        for chunk in _chunks_of_rows(parts, UPSERT_CHUNK_ROWS):
            # A view takes no parameters: the paths are written in as SQL string literals.
            paths = "[" + ", ".join("'" + str(parts[i].path).replace("'", "''") + "'" for i in chunk) + "]"
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW _window AS SELECT {select}, list_position({paths}, filename) - 1 + "
                f"{chunk[0]} AS _part FROM read_parquet({paths}, hive_partitioning = false, filename = true)"
            )
            merged.update(upsert_window(con, spec, columns))
            con.execute("DROP VIEW _window")
        return merged

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
    def _replace_quarantine(
        con: duckdb.DuckDBPyConnection,
        table: str,
        key: str,
        run_id: str,
        quarantine: Path | pl.DataFrame | None,
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
            if not Path(quarantine).is_file():
                return 0
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

    def has_loaded(self, table: str) -> bool:
        """Whether any load of ``table`` is logged (False before the warehouse or its log exists)."""
        if not self.db_path.exists():
            return False
        with self.connect(read_only=True) as con:
            logged = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = '_load_log'").fetchone()
            if not logged or not logged[0]:
                return False
            found = con.execute("SELECT count(*) FROM _load_log WHERE table_name = ?", [table]).fetchone()
        return bool(found and found[0])

    def query_readonly(self, sql: str, params: Sequence[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query on a read-only connection; returns (column names, rows)."""
        with self.connect(read_only=True) as con:
            cursor = con.execute(sql, list(params) if params else None)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return columns, cursor.fetchall()


def _schema_fingerprint(nightly: set[str], views: list[str]) -> str:
    """A digest of everything ensure_schema writes: the specs' DDL and comments, the nightly set, the views."""
    digest = hashlib.sha256()
    for spec in (*TABLES.values(), *BOOKKEEPING.values()):
        digest.update(spec.create_sql().encode())
        for statement in spec.comment_sql():
            digest.update(statement.encode())
    digest.update(repr(sorted(nightly)).encode())
    for view in views:
        digest.update(view.encode())
    return digest.hexdigest()


def _complete(con: duckdb.DuckDBPyConnection, views: list[str]) -> bool:
    """Whether every spec'd column and every view of ``views`` exists (a new file, a dropped view or column: no)."""
    columns = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal").fetchall())
    wanted_columns = {(spec.name, c.name) for spec in (*TABLES.values(), *BOOKKEEPING.values()) for c in spec.columns}
    present_views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    wanted_views = {m.group(1) for view in views for m in _VIEW_NAME.finditer(view)}
    return wanted_columns <= columns and wanted_views <= present_views
