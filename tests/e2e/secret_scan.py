"""Looks for secret values in everything a run leaves behind, reading each file as its reader would.

The raw archive is gzip, Parquet and DuckDB compress their strings: a plain byte search would find
nothing there whatever they held. So archives are decompressed, Parquet files and DuckDB tables are
read row by row as text, and every other file (logs, the Dagster instance's SQLite) is searched as it is.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb


def _rows_as_text(con: duckdb.DuckDBPyConnection, relation: str, *params: str) -> bytes:
    """Every row of ``relation`` as DuckDB prints it (lists and structs included), one per line."""
    rows = con.execute(f"select cast(r as varchar) from {relation} r", list(params)).fetchall()
    return "\n".join(row[0] for row in rows).encode()


def _text_of(path: Path) -> bytes:
    """The file's content as a reader sees it."""
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            return _rows_as_text(con, "read_parquet(?)", str(path))
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            views = con.execute("select schema_name, view_name from duckdb_views() where not internal").fetchall()
            return b"\n".join([path.read_bytes(), *(_rows_as_text(con, f'"{s}"."{t}"') for s, t in tables + views)])
    return path.read_bytes()


def files_containing(root: Path, secrets: list[str]) -> list[str]:
    """Every file under ``root`` (keys and credential files aside) holding one of ``secrets``, as ``path: #i``."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith((".pem", ".env", ".wal")):
            data = _text_of(path)
            hits += [f"{path}: secret #{i}" for i, s in enumerate(secrets) if s.encode() in data]
    return hits
