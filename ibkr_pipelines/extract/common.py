"""Shared parsing helpers: tolerant value converters, record -> row mapping, and typed frames.

IBKR sends the same field as a string in one endpoint and a number in another (``strike`` "0" vs
0.0, ``conid`` int vs "8314"), so every converter accepts both. A value that does not convert is
not dropped: it is kept, as sent, in the row's ``raw_extra`` JSON together with unmapped fields.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import polars as pl

from ibkr_pipelines.schemas import polars_schema

Converter = Callable[[Any], Any]


def as_str(value: Any) -> str | None:
    """Text as sent; numbers become their text; empty and null stay null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def as_str_keep_empty(value: Any) -> str | None:
    """Text as sent, keeping "" (e.g. ``model`` is "" for the default model)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


def as_float(value: Any) -> float | None:
    """A float from a number or numeric text ("12.5", "1,234.5", "0"); null when not numeric."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def as_int(value: Any) -> int | None:
    """An integer id from an int, an integral float or digit text ("8314"); null otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        number = as_float(text)
        return int(number) if number is not None and number.is_integer() else None
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean from true/false, 1/0 or their text; null otherwise."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
    return None


def _epoch(value: Any, divisor: float) -> dt.datetime | None:
    number = as_float(value)
    if number is None or number <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(number / divisor, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def from_epoch_ms(value: Any) -> dt.datetime | None:
    """A UTC datetime from epoch milliseconds (``accountStatus``); null for 0/absent."""
    return _epoch(value, 1000.0)


def from_epoch_s(value: Any) -> dt.datetime | None:
    """A UTC datetime from epoch seconds (ledger and summary ``timestamp``); null for 0/absent."""
    return _epoch(value, 1.0)


# Epoch values above this are milliseconds: as seconds they would lie after the year 5138.
_MILLISECONDS_FROM = 1e11


def from_epoch_auto(value: Any) -> dt.datetime | None:
    """A UTC datetime from epoch seconds or milliseconds, told apart by size (summary ``timestamp`` comes both ways)."""
    number = as_float(value)
    if number is None:
        return None
    return from_epoch_ms(number) if abs(number) >= _MILLISECONDS_FROM else from_epoch_s(number)


def as_date(value: dt.date | str) -> dt.date:
    """A snapshot date from a ``date`` or ``YYYY-MM-DD`` text (partition keys arrive as text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class Col:
    """Maps one source field (first present of ``sources``) to one column through ``convert``."""

    name: str
    sources: tuple[str, ...]
    convert: Converter = as_str


def col(name: str, *sources: str, convert: Converter = as_str) -> Col:
    """Shorthand for a ``Col``; the source defaults to the column name."""
    return Col(name, tuple(sources) or (name,), convert)


def to_json(value: Any) -> str:
    """Compact, stable JSON text for ``raw_extra`` and quarantine rows."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def map_record(
    record: Mapping[str, Any],
    columns: Iterable[Col],
    *,
    consumed: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``columns`` to one JSON object; returns (row, extra) where extra holds what did not map.

    ``consumed`` names source keys the caller handled itself (they are not put in extra).
    A source value that is present but does not convert is kept in extra, as sent.
    """
    row: dict[str, Any] = {}
    used: set[str] = set(consumed)
    extra: dict[str, Any] = {}
    for column in columns:
        value: Any = None
        source_key: str | None = None
        for key in column.sources:
            if key in record:
                source_key = key
                value = record[key]
                used.add(key)
                if value is not None:
                    break
        converted = column.convert(value)
        row[column.name] = converted
        if converted is None and source_key is not None and value is not None and value != "":
            extra[source_key] = value
    for key, value in record.items():
        if key not in used:
            extra[key] = value
    return row, extra


def extra_json(extra: Mapping[str, Any]) -> str | None:
    """``raw_extra`` text for unmapped fields, or null when there are none."""
    return to_json(dict(extra)) if extra else None


def empty_frame(table: str) -> pl.DataFrame:
    """A zero-row frame with exactly the columns and dtypes of ``table``."""
    return pl.DataFrame(schema=polars_schema(table))


def rows_to_frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Build a frame with exactly the columns and dtypes of ``table`` from row dicts."""
    schema = polars_schema(table)
    if not rows:
        return pl.DataFrame(schema=schema)
    data = {name: [row.get(name) for row in rows] for name in schema}
    return pl.DataFrame(data, schema=schema, strict=False)


def as_list(body: Any, *keys: str) -> list[Any]:
    """The list inside a body that may be a bare array or a wrapper object (first matching key)."""
    if body is None:
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in keys:
            inner = body.get(key)
            if isinstance(inner, list):
                return inner
    return []


# Every spelling of a side IBKR uses across trades and orders: B/S in the reference, BOT in a
# recorded trade, BUY/SELL on orders; SLD, BOUGHT, SOLD by analogy.
SIDES = {
    "B": "B", "BOT": "B", "BUY": "B", "BOUGHT": "B",
    "S": "S", "SLD": "S", "SELL": "S", "SOLD": "S",
}


def as_side(value: Any) -> str | None:
    """``"B"`` or ``"S"`` from any of IBKR's spellings (B/BOT/BUY/BOUGHT, S/SLD/SELL/SOLD); null otherwise."""
    if not isinstance(value, str):
        return None
    return SIDES.get(value.strip().upper())


def as_yyyymmdd(value: Any) -> dt.date | None:
    """A date from IBKR's compact ``"YYYYMMDD"`` (text or number, e.g. ``rawDate``, ``dates[]``); null otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def utc_from_text(value: Any, pattern: str) -> dt.datetime | None:
    """A UTC datetime from text in ``pattern`` (``strptime``), read as UTC wall-clock time; null when it does not parse."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return dt.datetime.strptime(value.strip(), pattern).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def instant_of(record: Mapping[str, Any], ms_key: str, text_key: str, pattern: str, extra: dict[str, Any]) -> dt.datetime | None:
    """An instant from ``ms_key`` (epoch ms), else ``text_key`` read as UTC in ``pattern``.

    IBKR sends both (trades: ``trade_time_r`` and ``trade_time``; orders: ``lastExecutionTime_r``
    and ``lastExecutionTime``). A value that does not convert, or text naming another instant than
    the epoch, is kept in ``extra`` as sent.
    """
    raw_ms, text = record.get(ms_key), record.get(text_key)
    from_ms, from_text = from_epoch_ms(raw_ms), utc_from_text(text, pattern)
    if from_ms is None and raw_ms not in (None, ""):
        extra[ms_key] = raw_ms
    if text not in (None, "") and (from_text is None or (from_ms is not None and from_ms != from_text)):
        extra[text_key] = text
    return from_ms or from_text
