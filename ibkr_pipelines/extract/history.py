"""History: one /iserver/marketdata/history answer into `bars` rows, and one request of it.

- Points (reference §2.8, recording MarketData/GET-history.json): ``t`` epoch ms at the bar's start,
  ``o``/``h``/``l``/``c`` plain prices (priceFactor scales only the summary ``high``/``low`` strings,
  which are not landed), ``v`` volume in units of ``volumeFactor`` (a guess: see the spec's ``volume``).
- "No data." (reference §6) is zero bars, never an error: the client's endpoint row tolerates it as an
  empty answer (``None``) with status 200 or 400, and a body handed over as sent ({"error": "No data."},
  e.g. by a fake client) reads the same.
- A contract IBKR does not know or serve (the simulator's 400 "conid is not valid"), or any other error
  body, raises one line naming the conid.
- A point that does not convert keeps nulls, so validation quarantines it with the column as reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import ApiErrorBody, IbkrPipelinesError
from ibkr_pipelines.extract.common import (
    as_float,
    as_int,
    as_list,
    as_str,
    extra_json,
    from_epoch_ms,
    map_record,
    rows_to_frame,
    to_json,
)
from ibkr_pipelines.schemas.bars import SOURCES
from ibkr_pipelines.schemas import polars_schema
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE_NAME, trading_date

TABLE = "bars"
HISTORY_PATH = "/iserver/marketdata/history"
START_TIME_FORMAT = "%Y%m%d-%H:%M:%S"  # reference §2.8: startTime in UTC
_NO_DATA = re.compile(r"no data", re.IGNORECASE)
# Spellings of ``source`` (reference §2.8: Last, called Trades in some docs; Midpoint; Bid_Ask).
_SOURCE_NAMES = {"trades": "Trades", "last": "Trades", "midpoint": "Midpoint", "bid_ask": "Bid_Ask"}
_POINT_KEYS = ("t", "o", "h", "l", "c", "v")
_PRICES = (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"))


class ContractNotServed(IbkrPipelinesError):
    """IBKR refused history for a contract (unknown, expired, or another error body); names the conid."""


@dataclass(frozen=True)
class BarSeries:
    """What one chain of history requests asks for: a contract, a bar size, a source, regular hours or not."""

    conid: int
    bar_size: str
    source: str
    outside_rth: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", source_name(self.source))


def source_name(value: str) -> str:
    """IBKR's name of a history source (Trades, Midpoint, Bid_Ask) from any accepted spelling; ValueError otherwise."""
    name = _SOURCE_NAMES.get(str(value).strip().lower())
    if name is None:
        raise ValueError(f"history source {value!r} is not one of {', '.join(SOURCES)} (or Last)")
    return name


def is_no_data(body: Any) -> bool:
    """Whether an answer means "no bars" (None from the client's tolerance, or IBKR's "No data." body)."""
    if body is None:
        return True
    return isinstance(body, Mapping) and "data" not in body and bool(_NO_DATA.search(as_str(body.get("error")) or ""))


def _refusal(body: Any, conid: int) -> ContractNotServed | None:
    """The one-line error for an answer that is neither bars nor "No data.", else None."""
    if not isinstance(body, Mapping):
        return ContractNotServed(f"history for conid {conid}: IBKR answered {to_json(body)[:200]} instead of bars")
    if "data" not in body and body.get("error") not in (None, ""):
        return ContractNotServed(f"history for conid {conid}: IBKR refused: {to_json(body.get('error'))[:200]}")
    return None


def _point_row(point: Any, header: Mapping[str, Any], series: BarSeries) -> dict[str, Any]:
    """One point of ``data`` -> one `bars` row (nulls where it does not convert, kept in raw_extra)."""
    row: dict[str, Any] = dict(header)
    row.update(conid=series.conid, bar_size=series.bar_size, source=series.source, outside_rth=series.outside_rth)
    if not isinstance(point, Mapping):
        row["raw_extra"] = extra_json({"value": point})
        return row
    _, extra = map_record(point, (), consumed=_POINT_KEYS)
    start = from_epoch_ms(point.get("t"))
    prices = {name: as_float(point.get(key)) for name, key in _PRICES}
    reported = as_float(point.get("v"))
    converted = {"t": start, "v": reported, **{key: prices[name] for name, key in _PRICES}}
    for key, value in converted.items():
        if value is None and point.get(key) not in (None, ""):
            extra[key] = point.get(key)  # present but not a number: kept as sent, the row is quarantined
    factor = header.get("volume_factor")
    row.update(
        prices,
        bar_date=trading_date(start) if start is not None else None,
        bar_start_utc=start,
        volume_reported=reported,
        volume=reported * factor if reported is not None and factor is not None else None,
        raw_extra=extra_json(extra),
    )
    return row


def _header(body: Mapping[str, Any]) -> dict[str, Any]:
    """The answer-wide fields every row carries (the request-dependent ones stay in the raw archive)."""
    delay = as_int(body.get("mktDataDelay"))
    return {
        "symbol": as_str(body.get("symbol")),
        "description": as_str(body.get("text")),
        "volume_factor": as_float(body.get("volumeFactor")),
        "price_factor": as_int(body.get("priceFactor")),
        "md_availability": as_str(body.get("mdAvailability")),
        "market_data_delay_s": delay,
    }


def parse_history(body: Any, series: BarSeries) -> pl.DataFrame:
    """A history answer -> `bars` rows in the answer's order; "No data." is zero rows, other errors raise."""
    if is_no_data(body):
        return rows_to_frame(TABLE, [])
    problem = _refusal(body, series.conid)
    if problem is not None:
        raise problem
    header = _header(body)
    points = as_list(body.get("data"))
    fast = _plain_points_frame(points, header, series)
    if fast is not None:
        return fast
    return rows_to_frame(TABLE, [_point_row(p, header, series) for p in points])


_NUMBERS = frozenset({int, float})  # what JSON numbers decode to (bool and str are neither)


def _plain_columns(points: list[Any]) -> dict[str, list[Any]] | None:
    """The points' values column by column when every point is plain (exactly the six keys, numbers, ``t`` a
    positive int); None otherwise. Checked a column at a time with C-level ``map``: a per-point Python
    check cost more than building the frame (about 2 s of a 30-day minute-bar backfill)."""
    if set(map(type, points)) != {dict} or set(map(len, points)) != {len(_POINT_KEYS)}:
        return None
    try:
        columns = {key: list(map(itemgetter(key), points)) for key in _POINT_KEYS}
    except KeyError:  # six keys, but not these six
        return None
    starts = columns["t"]
    if set(map(type, starts)) != {int} or min(starts) <= 0:
        return None
    if any(not set(map(type, columns[key])) <= _NUMBERS for key in _POINT_KEYS[1:]):
        return None
    return columns


def _plain_points_frame(points: list[Any], header: Mapping[str, Any], series: BarSeries) -> pl.DataFrame | None:
    """The rows of an answer whose points are all plain (numbers only, no other keys), built column-wise.

    A year of minute bars is a million points: the per-point path costs a Python dict per row, this
    one a few column operations per answer. Any point that is not plain sends the whole answer down
    the per-point path (``_point_row``), which keeps what does not convert and lets validation
    quarantine it; both give the same rows for plain points (tests/extract/test_history.py).
    """
    columns = _plain_columns(points) if points else None
    if columns is None:
        return None
    factor = header.get("volume_factor")
    utc = pl.from_epoch(pl.Series("t", columns["t"], dtype=pl.Int64), time_unit="ms").dt.replace_time_zone("UTC")
    frame = pl.DataFrame({
        "bar_start_utc": utc,
        **{name: pl.Series(name, columns[key], dtype=pl.Float64) for name, key in _PRICES},
        "volume_reported": pl.Series("volume_reported", columns["v"], dtype=pl.Float64),
    })
    constants = {**header, "conid": series.conid, "bar_size": series.bar_size, "source": series.source,
                 "outside_rth": series.outside_rth, "raw_extra": None}
    schema = polars_schema(TABLE)
    frame = frame.with_columns(
        pl.col("bar_start_utc").dt.convert_time_zone(TRADING_TIMEZONE_NAME).dt.date().alias("bar_date"),
        (pl.col("volume_reported") * factor if factor is not None else pl.lit(None)).alias("volume"),
        *(pl.lit(value, dtype=schema[name]).alias(name) for name, value in constants.items()),
    )
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def start_time_text(instant: dt.datetime) -> str:
    """``startTime`` as IBKR reads it: UTC ``YYYYMMDD-HH:mm:ss`` (reference §2.8)."""
    return instant.astimezone(dt.timezone.utc).strftime(START_TIME_FORMAT)


def read_history(client: ApiClient, series: BarSeries, *, start_time: dt.datetime, period: str) -> Any:
    """One history request ending at ``start_time``; the body, or None for "No data."; a refusal raises naming the conid."""
    params = {
        "conid": series.conid,
        "bar": series.bar_size,
        "period": period,
        "startTime": start_time_text(start_time),
        "source": series.source,
        "outsideRth": "true" if series.outside_rth else "false",
    }
    try:
        body = client.get(HISTORY_PATH, params=params)
    except ApiErrorBody as error:
        if _NO_DATA.search(error.text or ""):
            return None
        raise ContractNotServed(f"history for conid {series.conid}: IBKR refused: {error.text or error}") from error
    return body
