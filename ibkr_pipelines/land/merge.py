"""The three ways a lake partition merges into its warehouse table, chosen by the table's spec.

Each runs inside the caller's transaction on a temp table ``_incoming`` (the partition's rows) and
returns (rows of the partition now, rows it replaced). None names a table: columns, keys and dates
come from the spec.

- ``replace_window``: the partition is the whole truth about its date (or, with a slice, about the
  accounts the extraction covered): delete those rows, insert the new ones. It refuses to shrink a
  slice from rows to none, or to less than half of ten or more, unless ``allow_shrink``.
- ``upsert``: rows replace rows with the same natural key; nothing else is deleted.
- ``merge_seen``: a type-1 merge on the natural key; the newest sighting's attributes win, the
  first and last seen dates widen, so loading the same days in any order gives the same table.
"""

from __future__ import annotations

from typing import Any, Sequence

import duckdb

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import PartitionSlice
from ibkr_pipelines.schemas.spec import LoadStrategy, TableSpec

# A load is refused when a slice would lose every row, or (from SHRINK_MIN_ROWS landed rows on)
# more than half of them: guards against a broken extraction, not statistics about accounts.
SHRINK_FLOOR = 0.5
SHRINK_MIN_ROWS = 10


class LoadError(IbkrPipelinesError):
    """A partition could not be loaded (wrong partition dates, missing columns, unknown table)."""


class ShrinkRefused(LoadError):
    """A load would replace landed rows with far fewer; refused unless the caller allows it."""


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def shrink_problem(table: str, key: str, who: str, landed: int, incoming: int) -> str | None:
    """Why replacing ``landed`` rows by ``incoming`` looks like data loss (None when it does not)."""
    if landed == 0 or (incoming > 0 and (landed < SHRINK_MIN_ROWS or incoming >= landed * SHRINK_FLOOR)):
        return None
    return (
        f"{table} {key}: refusing to replace {landed} landed row(s){who} with {incoming}: IBKR returned far fewer "
        "than before; if that is right (e.g. positions closed), re-run with --allow-shrink (IBKR_ALLOW_SHRINK=true)"
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> int:
    (value,) = con.execute(sql, list(params)).fetchone()
    return int(value)


def replace_window(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    key: str,
    columns: Sequence[str],
    covered: PartitionSlice | None,
    allow_shrink: bool,
) -> tuple[int, int]:
    """Replace the covered slice of one date of ``spec``'s table (the whole date when the file names no slice)."""
    table, date_column = quote(spec.name), quote(str(spec.partition_column))
    wrong = _count(con, f"SELECT count(*) FROM _incoming WHERE {date_column} IS DISTINCT FROM CAST(? AS DATE)", [key])
    if wrong:
        raise LoadError(f"{spec.name} {key}: {wrong} rows carry another {spec.partition_column} than the partition")
    where, params = f"{date_column} = CAST(? AS DATE)", [key]
    if covered is not None:
        # The file's metadata holds the slice as text (PartitionSlice); compare the column as text too,
        # so a slice of conids (BIGINT) works like a slice of accounts.
        column = f"CAST({quote(covered.column)} AS VARCHAR)"
        outside = _count(
            con, f"SELECT count(*) FROM _incoming WHERE {column} IS NULL OR NOT list_contains(?, {column})",
            [list(covered.values)],
        )
        if outside:
            raise LoadError(f"{spec.name} {key}: {outside} rows fall outside the {covered.column}s the file covers")
        where += f" AND list_contains(?, {column})"
        params.append(list(covered.values))
    if not allow_shrink:
        _refuse_shrink(con, spec.name, key, where, params, covered)
    replaced = _count(con, f"SELECT count(*) FROM {table} WHERE {where}", params)
    con.execute(f"DELETE FROM {table} WHERE {where}", params)
    cols = ", ".join(quote(c) for c in columns)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    return _count(con, "SELECT count(*) FROM _incoming"), replaced


def _refuse_shrink(
    con: duckdb.DuckDBPyConnection, table: str, key: str, where: str, params: list[Any], covered: PartitionSlice | None
) -> None:
    """Raise ``ShrinkRefused`` when a covered slice (or the whole date) would lose most of its rows."""
    if covered is None:
        landed = _count(con, f"SELECT count(*) FROM {quote(table)} WHERE {where}", params)
        problem = shrink_problem(table, key, "", landed, _count(con, "SELECT count(*) FROM _incoming"))
        if problem:
            raise ShrinkRefused(problem)
        return
    column = f"CAST({quote(covered.column)} AS VARCHAR)"
    counts = con.execute(
        f"""
        SELECT landed.value, landed.n, coalesce(incoming.n, 0)
        FROM (SELECT {column} AS value, count(*) AS n FROM {quote(table)} WHERE {where} GROUP BY 1) AS landed
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


def _no_duplicate_keys(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> str:
    """The natural key as a SQL tuple, after checking the incoming rows repeat none of it."""
    keys = ", ".join(quote(k) for k in spec.natural_key)
    dupes = _count(con, f"SELECT count(*) - count(DISTINCT ({keys})) FROM _incoming")
    if dupes:
        raise LoadError(f"{spec.name}: {dupes} duplicate natural keys in the incoming file (validate first)")
    return keys


def upsert(con: duckdb.DuckDBPyConnection, spec: TableSpec, columns: Sequence[str]) -> tuple[int, int]:
    """Insert the incoming rows, replacing rows with the same natural key; nothing else is deleted."""
    keys = _no_duplicate_keys(con, spec)
    table = quote(spec.name)
    match = f"({keys}) IN (SELECT ({keys}) FROM _incoming)"
    replaced = _count(con, f"SELECT count(*) FROM {table} WHERE {match}")
    con.execute(f"DELETE FROM {table} WHERE {match}")
    cols = ", ".join(quote(c) for c in columns)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    return _count(con, "SELECT count(*) FROM _incoming"), replaced


def upsert_window(con: duckdb.DuckDBPyConnection, spec: TableSpec, columns: Sequence[str]) -> dict[int, tuple[int, int]]:
    """Upsert the rows of ``_window`` (a view: rows plus ``_part``, their date's order) at once; per part: rows, replaced.

    The same as upserting the dates one after another: a key in two dates' files keeps the later
    date's row. One DELETE and one INSERT for the rows given, instead of one per date, so a year of
    minute bars probes the table a few times rather than once per date.
    """
    keys = ", ".join(quote(k) for k in spec.natural_key)
    table = quote(spec.name)
    cols = ", ".join(quote(c) for c in columns)
    within = _count(con, f"SELECT count(*) FROM (SELECT _part, {keys} FROM _window GROUP BY ALL HAVING count(*) > 1)")
    if within:
        raise LoadError(f"{spec.name}: {within} duplicate natural keys in an incoming file (validate first)")
    rows = dict(con.execute("SELECT _part, count(*) FROM _window GROUP BY 1").fetchall())
    source = "_window"
    if _count(con, f"SELECT count(*) - count(DISTINCT ({keys})) FROM _window"):
        # As date by date: a row replaces the table's row of its key, or an earlier date's row of it.
        replaced = dict(con.execute(
            f"SELECT _part, count(*) FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY _part) AS _nth "
            f"FROM _window) WHERE _nth > 1 OR ({keys}) IN (SELECT ({keys}) FROM {table}) GROUP BY 1").fetchall())
        source = f"(SELECT * FROM _window QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _part DESC) = 1)"
    else:
        replaced = dict(con.execute(
            f"SELECT w._part, count(*) FROM _window w SEMI JOIN {table} t USING ({keys}) GROUP BY 1").fetchall())
    con.execute(f"DELETE FROM {table} WHERE ({keys}) IN (SELECT ({keys}) FROM {source})")
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source}")
    return {part: (count, int(replaced.get(part, 0))) for part, count in rows.items()}


def merge_seen(con: duckdb.DuckDBPyConnection, spec: TableSpec, columns: Sequence[str]) -> tuple[int, int]:
    """Type-1 merge: the newest sighting's attributes win; first and last seen dates widen."""
    keys = _no_duplicate_keys(con, spec)
    first, last = quote(str(spec.first_seen_column)), quote(str(spec.last_seen_column))
    table = quote(spec.name)
    join = " AND ".join(f"c.{quote(k)} = i.{quote(k)}" for k in spec.natural_key)

    def picked(alias: str) -> str:
        out = []
        for name in columns:
            if quote(name) == first:
                out.append(f"least(i.{first}, c.{first}) AS {first}")
            elif quote(name) == last:
                out.append(f"greatest(i.{last}, c.{last}) AS {last}")
            else:
                out.append(f"{alias}.{quote(name)}")
        return ", ".join(out)

    cols = ", ".join(quote(c) for c in columns)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _merged AS
        SELECT {cols} FROM _incoming AS i WHERE NOT EXISTS (SELECT 1 FROM {table} AS c WHERE {join})
        UNION ALL
        SELECT {picked('i')} FROM _incoming AS i JOIN {table} AS c ON {join} WHERE i.{last} >= c.{last}
        UNION ALL
        SELECT {picked('c')} FROM _incoming AS i JOIN {table} AS c ON {join} WHERE i.{last} < c.{last}
        """
    )
    match = f"({keys}) IN (SELECT ({keys}) FROM _incoming)"
    replaced = _count(con, f"SELECT count(*) FROM {table} WHERE {match}")
    con.execute(f"DELETE FROM {table} WHERE {match}")
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _merged")
    con.execute("DROP TABLE _merged")
    return _count(con, "SELECT count(*) FROM _incoming"), replaced


def merge(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    key: str,
    columns: Sequence[str],
    covered: PartitionSlice | None,
    allow_shrink: bool,
) -> tuple[int, int]:
    """Merge ``_incoming`` into ``spec``'s table as its load strategy says."""
    if spec.load is LoadStrategy.REPLACE_WINDOW:
        return replace_window(con, spec, key, columns, covered, allow_shrink)
    if spec.load is LoadStrategy.UPSERT:
        return upsert(con, spec, columns)
    return merge_seen(con, spec, columns)
