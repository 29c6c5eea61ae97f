"""One Flex row -> one row of its table: converted columns, identity, statement context, kept attributes.

Conversion follows the column's type in the spec. A value that does not read leaves its column
null and goes, as sent, to ``unparsed`` (the ``values_parsed`` check quarantines the row); an
attribute the table has no column for goes to ``raw_extra`` unless it is empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Callable

import polars as pl

from ibkr_pipelines.flex.categories import cash_category
from ibkr_pipelines.flex.context import Statement
from ibkr_pipelines.flex.dates import UnreadableValue, read_date, read_instant
from ibkr_pipelines.flex.mappings import TableMapping
from ibkr_pipelines.flex.stream import RESPONSE, STATEMENT, FlexRow
from ibkr_pipelines.flex.values import NO_VALUE, read_flag, read_integer, read_number, read_text

Reader = Callable[[str], Any]
Row = dict[str, Any]


def to_json(value: dict[str, str]) -> str:
    """Compact JSON of attributes, in the order IBKR sent them."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _reader(dtype: pl.DataType, day_first: bool | None) -> Reader:
    """The converter for a column of ``dtype`` (dates need the file's month/day order)."""
    if isinstance(dtype, pl.Datetime):
        return lambda text: None if text in NO_VALUE else read_instant(text, day_first)
    if isinstance(dtype, pl.Date):
        return lambda text: None if text in NO_VALUE else read_date(text, day_first)
    if isinstance(dtype, pl.Float64):
        return read_number
    if isinstance(dtype, (pl.Int64, pl.Int32)):
        return read_integer
    if isinstance(dtype, pl.Boolean):
        return read_flag
    return read_text


def _row_key(mapping: TableMapping, row: FlexRow, statement: Statement) -> str:
    """IBKR's id with its prefix when the row has one, else a hash of its modelled attributes and its rank."""
    for attribute, prefix in mapping.row_ids:
        text = row.attributes.get(attribute, "").strip()
        if text not in NO_VALUE:
            return prefix + text
    modelled = sorted((k, v) for k, v in row.attributes.items() if k in mapping.attributes and v != "")
    text = row.element + "\x1e" + "\x1f".join(f"{k}={v}" for k, v in modelled)
    digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    rank = statement.rank(("sha", mapping.spec.name, digest))
    return f"sha:{digest}" if rank == 1 else f"sha:{digest}#{rank}"


class RowBuilder:
    """Builds rows of one modelled table for one file (the file's month/day order fixed)."""

    def __init__(self, mapping: TableMapping, day_first: bool | None) -> None:
        self.mapping = mapping
        dtypes = mapping.spec.polars_schema()
        self.readers = {c: _reader(dtypes[c], day_first) for cs in mapping.attributes.values() for c in cs}
        self.keyed = "row_key" in dtypes
        self.finish = FINISHERS.get(mapping.spec.name, _nothing)

    def build(self, row: FlexRow, statement: Statement) -> Row:
        """The table row for ``row`` of ``statement`` (columns it has no value for are left out: null)."""
        values: Row = {}
        extra: dict[str, str] = dict(statement.notes) if statement.notes else {}
        unparsed: dict[str, str] = {}
        attributes, readers = self.mapping.attributes, self.readers
        for name, text in row.attributes.items():
            columns = attributes.get(name)
            if columns is None:
                if text:
                    extra[name] = text
                continue
            for column in columns:
                try:
                    value = readers[column](text)
                except UnreadableValue:
                    unparsed[name] = text
                    continue
                if value is not None:
                    known = values.get(column)
                    if known is None:
                        values[column] = value
                    elif known != value:
                        extra[name] = text
        if values.get("account_id") is None:
            values["account_id"] = statement.account_id
        if values.get("report_date") is None and "reportDate" not in unparsed and "toDate" not in unparsed:
            values["report_date"] = statement.to_date
            unparsed.update(_needed(statement, "FlexStatement.toDate"))
        if self.keyed:
            values["row_key"] = _row_key(self.mapping, row, statement)
        self.finish(values, row, statement, unparsed)
        values["statement_from_date"] = statement.from_date
        values["statement_to_date"] = statement.to_date
        values["generated_at"] = statement.generated_at
        if extra:
            values["raw_extra"] = to_json(extra)
        if unparsed:
            values["unparsed"] = to_json(unparsed)
        return values


def _needed(statement: Statement, name: str) -> dict[str, str]:
    """A statement value a row falls back on, when it did not read: the row cannot be placed, so it is unparsed."""
    return {name: statement.problems[name]} if name in statement.problems else {}


def _nothing(values: Row, row: FlexRow, statement: Statement, unparsed: dict[str, str]) -> None:
    return None


def _finish_trade(values: Row, row: FlexRow, statement: Statement, unparsed: dict[str, str]) -> None:
    values["element"] = row.element


def _finish_cash(values: Row, row: FlexRow, statement: Statement, unparsed: dict[str, str]) -> None:
    values["category"] = cash_category(values.get("type"))


def _finish_nav(values: Row, row: FlexRow, statement: Statement, unparsed: dict[str, str]) -> None:
    """A NAV row's element and period start: an equity summary is one date; ChangeInNAV spans its statement."""
    values["element"] = row.element
    if values.get("from_date") is None and "fromDate" not in unparsed:
        if row.element == "ChangeInNAV":
            values["from_date"] = statement.from_date
            unparsed.update(_needed(statement, "FlexStatement.fromDate"))
        else:
            values["from_date"] = values.get("report_date")


FINISHERS: dict[str, Callable[[Row, FlexRow, Statement, dict[str, str]], None]] = {
    "flex_trades": _finish_trade,
    "flex_cash_transactions": _finish_cash,
    "flex_nav": _finish_nav,
}


def other_row(row: FlexRow, statement: Statement, day_first: bool | None) -> Row:
    """A `flex_other_rows` row: section, element, every attribute as JSON, ranked within its statement."""
    report_date: dt.date | None = None
    text = row.attributes.get("reportDate", "")
    if text.strip() not in NO_VALUE:
        try:
            report_date = read_date(text, day_first)
        except UnreadableValue:
            report_date = None  # the attributes keep it; the row is dated by its statement instead
    rank = statement.rank(("other", row.section, row.element))
    return {
        "report_date": report_date or statement.to_date,
        "account_id": row.attributes.get("accountId") or statement.account_id,
        "section": row.section,
        "element": row.element,
        "row_key": f"{statement.account_id or ''}:{statement.from_text}..{statement.to_text}#{rank}",
        "level_of_detail": row.attributes.get("levelOfDetail") or None,
        "attributes": to_json(row.attributes),
        "statement_from_date": statement.from_date,
        "statement_to_date": statement.to_date,
        "generated_at": statement.generated_at,
    }


def statement_row(attributes: dict[str, str], response: dict[str, str], statement: Statement) -> Row:
    """The statement itself as a `flex_other_rows` row (section and element FlexStatement), so its period,
    query name and type are kept and a statement with no rows (a closed account's) is still seen."""
    kept = {**attributes, **{f"{RESPONSE}.{name}": value for name, value in response.items()}}
    return other_row(FlexRow(STATEMENT, STATEMENT, kept), statement, None)
