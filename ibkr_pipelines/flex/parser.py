"""Read a FlexQueryResponse (bytes or a file) into frames of the Flex tables, a chunk at a time.

``parse_flex`` yields ``FlexChunk``s (a table name and a frame of exactly its spec's layout) of
at most ``chunk_rows`` rows as the file is read, so a multi-year statement is never held whole:
memory is the open XML path, the month/day scan's block, and one buffer per table. ``read_flex``
collects every table for small files and tests. Any number of statements (one per day, one per
period) and accounts (an FA master with sub-accounts, closed accounts) are read the same way;
an empty section yields nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from ibkr_pipelines.flex.context import Statement, read_statement
from ibkr_pipelines.flex.day_order import decide_day_first, scan_slash_dates
from ibkr_pipelines.flex.mappings import MAPPINGS
from ibkr_pipelines.flex.rows import RowBuilder, other_row, statement_row
from ibkr_pipelines.flex.sections import OTHER_ROWS, route
from ibkr_pipelines.flex.stream import FlexRow, StatementStart, walk
from ibkr_pipelines.schemas.flex_conversion_rates import FLEX_CONVERSION_RATES
from ibkr_pipelines.schemas.flex_tables import FLEX_SPECS, FLEX_TABLES
from ibkr_pipelines.schemas.spec import TableSpec
from ibkr_pipelines.trading_calendar import trading_date

DEFAULT_CHUNK_ROWS = 5_000
_RATES = FLEX_CONVERSION_RATES.name


@dataclass(frozen=True)
class FlexChunk:
    """Some rows of one Flex table, as a frame of exactly that table's spec layout."""

    table: str
    frame: pl.DataFrame


class _Buffer:
    """Rows of one table until a chunk is full (dicts holding only their non-null values)."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.schema = spec.polars_schema()
        self.rows: list[dict[str, Any]] = []

    def take(self) -> FlexChunk:
        frame = pl.DataFrame(self.rows, schema=self.schema, strict=False)
        self.rows = []
        return FlexChunk(self.spec.name, frame)


def _source(source: bytes | str | Path) -> bytes | Path:
    return source if isinstance(source, bytes) else Path(source)


def parse_flex(
    source: bytes | str | Path,
    *,
    day_first: bool | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    today: dt.date | None = None,
) -> Iterator[FlexChunk]:
    """Yield the rows of a FlexQueryResponse as chunks per table, in bounded memory.

    ``day_first`` says the order of ``a/b/y`` dates when the caller knows the query's format;
    otherwise it is decided from the file (``day_order``), ``today`` (default: New York's date)
    bounding when a report can have been generated. Raises ``FlexFileError`` when the input is not
    a readable FlexQueryResponse; an unreadable value never raises (see ``rows``).
    """
    data = _source(source)
    if day_first is None:
        day_first = decide_day_first(scan_slash_dates(data), today or trading_date())
    builders = {name: RowBuilder(mapping, day_first) for name, mapping in MAPPINGS.items()}
    buffers = {spec.name: _Buffer(spec) for spec in FLEX_TABLES}
    rates_seen: set[tuple[Any, ...]] = set()
    statement: Statement | None = None
    for item in walk(data):
        if isinstance(item, StatementStart):
            statement = read_statement(item.attributes, day_first)
            table, row = OTHER_ROWS, statement_row(item.attributes, item.response, statement)
        else:
            assert statement is not None  # walk yields rows only inside a statement
            table = route(item.section, item.element, item.attributes.get("levelOfDetail"))
            row = _row(table, item, statement, builders, day_first)
        if table == _RATES:
            key = (row.get("report_date"), row.get("from_currency"), row.get("to_currency"))
            if key in rates_seen:
                continue  # every account's statement repeats the day's rates
            rates_seen.add(key)
        buffer = buffers[table]
        buffer.rows.append(row)
        if len(buffer.rows) >= chunk_rows:
            yield buffer.take()
    for buffer in buffers.values():
        if buffer.rows:
            yield buffer.take()


def _row(table: str, item: FlexRow, statement: Statement, builders: dict[str, RowBuilder],
         day_first: bool | None) -> dict[str, Any]:
    if table == OTHER_ROWS:
        return other_row(item, statement, day_first)
    return builders[table].build(item, statement)


def read_flex(source: bytes | str | Path, *, day_first: bool | None = None,
              today: dt.date | None = None) -> dict[str, pl.DataFrame]:
    """Every Flex table's rows of a whole file, one frame per table (empty ones too); for small files and tests."""
    parts: dict[str, list[pl.DataFrame]] = {spec.name: [] for spec in FLEX_TABLES}
    for chunk in parse_flex(source, day_first=day_first, today=today):
        parts[chunk.table].append(chunk.frame)
    return {
        name: pl.concat(frames) if frames else pl.DataFrame(schema=FLEX_SPECS[name].polars_schema())
        for name, frames in parts.items()
    }
