"""TableSpec: the one declaration of a landed table, read by everything that touches the table.

A spec says what each column is (name, type, nullability, a one-line description), the natural
key, how a load merges into the warehouse, which date column partitions it, which column says what
slice of a partition an extraction covered, how far back its source can reach, and the columns
analysts rely on. From it come the pandera schema that validates extracted frames, the polars layout
extractors build, the DuckDB table (with comments), the Dagster column schema and checks, and the
data dictionary (``sql/README.md``). Shared code never names a table: it reads specs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

import pandera.polars as pa
import polars as pl

from ibkr_pipelines.schemas.types import UTC_TIMESTAMP


class LoadStrategy(enum.Enum):
    """How a load merges into the warehouse table."""

    # Replace the rows of the window's dates (and, when the lake file says so, only the accounts it
    # covered): a snapshot, or an extraction that is the whole truth about its dates.
    REPLACE_WINDOW = "replace_window"
    # Insert or replace rows by natural key, never deleting others: events seen again (executions).
    UPSERT = "upsert"
    # Type-1 merge on the natural key: the newest sighting's attributes win, the first and last dates
    # seen widen (a dimension such as contracts).
    MERGE_SEEN = "merge_seen"


class Reach(enum.Enum):
    """How far back IBKR can serve a date of this table from a live account."""

    # Only "now": the partition of today (or yesterday, after New York's midnight).
    CURRENT = "current"
    # A few recent days (``reach_days``), e.g. /iserver/account/trades' 7 days.
    RECENT = "recent"
    # Any date up to yesterday: IBKR writes a date's report after its close of business (Flex
    # statements; reference §4.1 "refreshed once per day, at close of business", §3.3 "ready around
    # midnight ET").
    SETTLED = "settled"
    # Any date (historical bars).
    ANY = "any"


@dataclass(frozen=True)
class Column:
    """One column: name, polars type, whether it may be null, and what it means (one line)."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = True


def col(name: str, dtype: pl.DataType, description: str, *, nullable: bool = True) -> Column:
    """Shorthand for a ``Column``."""
    return Column(name, dtype, description, nullable)


# Column types as polars values, so specs read like the table.
TEXT = pl.Utf8()
FLOAT = pl.Float64()
BIGINT = pl.Int64()
INTEGER = pl.Int32()
BOOLEAN = pl.Boolean()
DATE = pl.Date()
TIMESTAMP = UTC_TIMESTAMP

_SQL_TYPES: dict[type[pl.DataType], str] = {
    pl.Utf8: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}


def sql_type(dtype: pl.DataType) -> str:
    """The DuckDB type of a polars type (timestamps are stored as UTC wall-clock TIMESTAMP)."""
    return "TIMESTAMP" if isinstance(dtype, pl.Datetime) else _SQL_TYPES[dtype.base_type()]


RowCheck = Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class FrameCheck:
    """A row-level rule across columns: ``rule`` maps the frame to one boolean column, true where a row passes."""

    name: str
    description: str
    rule: Callable[[pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class TableSpec:
    """Everything the pipeline knows about one table; see the module docstring."""

    name: str
    description: str
    source: str  # where the rows come from (IBKR endpoints), for the data dictionary
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    load: LoadStrategy
    partition_column: str | None  # the date column a window applies to (None: not dated)
    lake_partition: str | None = None  # hive name of the lake's date folder (default: partition_column)
    slice_column: str | None = None  # an extraction may cover part of a date: these values of this column
    reach: Reach = Reach.ANY
    reach_days: int = 0  # with Reach.RECENT: how many days back, today included
    first_seen_column: str | None = None  # MERGE_SEEN: earliest date seen
    last_seen_column: str | None = None  # MERGE_SEEN: latest date seen
    analyst_columns: tuple[str, ...] = ()  # must be filled on every landed row (a warehouse check)
    frame_checks: tuple[FrameCheck, ...] = ()
    validated: bool = True  # bookkeeping tables (quarantine, load log) are written, not validated
    views: tuple[str, ...] = field(default=())  # analyst views built on it (for the dictionary)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        missing = [k for k in (*self.natural_key, *self.analyst_columns) if k not in names]
        for extra in (self.partition_column, self.slice_column, self.first_seen_column, self.last_seen_column):
            if extra is not None and extra not in names:
                missing.append(extra)
        if missing or len(set(names)) != len(names):
            raise ValueError(f"table spec {self.name!r}: unknown or repeated columns {missing or names}")
        if self.load is LoadStrategy.MERGE_SEEN and not (self.first_seen_column and self.last_seen_column):
            raise ValueError(f"table spec {self.name!r}: a MERGE_SEEN table names its first and last seen columns")

    @property
    def column_names(self) -> list[str]:
        """Column names in landing order."""
        return [c.name for c in self.columns]

    @property
    def lake_key(self) -> str:
        """The hive name of the lake's date folders for this table."""
        return self.lake_partition or self.partition_column or "partition"

    def polars_schema(self) -> dict[str, pl.DataType]:
        """Column name -> polars dtype, in landing order (extractors build exactly this)."""
        return {c.name: c.dtype for c in self.columns}

    def pandera_schema(self) -> pa.DataFrameSchema:
        """The pandera (polars backend) schema validating an extracted frame of this table."""
        checks = [
            pa.Check(lambda data, rule=check.rule: rule(data.lazyframe), name=check.name)
            for check in self.frame_checks
        ]
        return pa.DataFrameSchema(
            {c.name: pa.Column(c.dtype, nullable=c.nullable) for c in self.columns},
            checks=checks,
            strict=True,
            unique=list(self.natural_key),
            name=self.name,
        )

    def create_sql(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for this table (no primary key: loads delete and re-insert keys)."""
        lines = [f'    "{c.name}" {sql_type(c.dtype)}{"" if c.nullable else " NOT NULL"}' for c in self.columns]
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n' + ",\n".join(lines) + "\n)"

    def comment_sql(self) -> list[str]:
        """``COMMENT ON`` statements for the table and every column (shown by DuckDB's catalogs and UIs)."""

        def quoted(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"

        out = [f'COMMENT ON TABLE "{self.name}" IS {quoted(self.description)}']
        out += [f'COMMENT ON COLUMN "{self.name}"."{c.name}" IS {quoted(c.description)}' for c in self.columns]
        return out
