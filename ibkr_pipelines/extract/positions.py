"""Positions: /portfolio/{id}/positions/{page} into the `positions` table.

Pages start at 0 and hold at most 100 rows; the first short or empty page is the last. The first
read in a session can be "cold": rows come back without their security-definition fields, so such
a page 0 is read once more and the second answer is used.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import (
    as_date,
    as_float,
    as_int,
    as_list,
    as_str,
    as_str_keep_empty,
    col,
    extra_json,
    map_record,
    rows_to_frame,
)
from ibkr_pipelines.extract.secdef_fields import SECDEF_COLUMNS

log = logging.getLogger(__name__)

TABLE = "positions"
PAGE_SIZE = 100
MAX_PAGES = 1_000  # 100k positions: a guard against a server that ignores the page number

_COLUMNS = (
    col("contract_desc", "contractDesc"),
    col("position", convert=as_float),
    col("mkt_price", "mktPrice", convert=as_float),
    col("mkt_value", "mktValue", convert=as_float),
    col("avg_cost", "avgCost", convert=as_float),
    col("avg_price", "avgPrice", convert=as_float),
    col("realized_pnl", "realizedPnl", convert=as_float),
    col("unrealized_pnl", "unrealizedPnl", convert=as_float),
    col("base_mkt_value", "baseMktValue", convert=as_float),
    col("base_mkt_price", "baseMktPrice", convert=as_float),
    col("base_avg_cost", "baseAvgCost", convert=as_float),
    col("base_avg_price", "baseAvgPrice", convert=as_float),
    col("base_realized_pnl", "baseRealizedPnl", convert=as_float),
    col("base_unrealized_pnl", "baseUnrealizedPnl", convert=as_float),
    col("model", convert=as_str_keep_empty),
    *SECDEF_COLUMNS,
)

_SECDEF_MARKERS = ("ticker", "name")


@dataclass(frozen=True)
class PositionsFetch:
    """The positions of one account plus how they were read.

    ``pages`` counts page requests (a cold page 0 read twice counts 2); ``cold_read_retries`` is 1
    when page 0 came back without security definitions and was read again.
    """

    frame: pl.DataFrame
    pages: int
    cold_read_retries: int


def _position_row(record: Mapping[str, Any], account_id: str, day: dt.date) -> dict[str, Any]:
    row, extra = map_record(record, _COLUMNS, consumed=("conid", "acctId"))
    conid = as_int(record.get("conid"))
    if conid is None and record.get("conid") is not None:
        extra["conid"] = record.get("conid")
    if record.get("acctId") not in (None, account_id):
        extra["acctId"] = record.get("acctId")
    row.update(snapshot_date=day, account_id=account_id, conid=conid, raw_extra=extra_json(extra))
    return row


def parse_positions(body: Any, *, account_id: str, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Position rows (one page or several concatenated) -> `positions` rows; rows without conid are kept."""
    day = as_date(snapshot_date)
    rows = [_position_row(r, account_id, day) for r in as_list(body) if isinstance(r, Mapping)]
    return rows_to_frame(TABLE, rows)


def is_cold_read(rows: list[Any]) -> bool:
    """True when no row carries its security definition (``ticker``/``name``), as on a cold first read."""
    return not any(
        isinstance(r, Mapping) and any(as_str(r.get(k)) for k in _SECDEF_MARKERS) for r in rows
    )


def fetch_position_records(
    client: ApiClient, account_id: str, *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> tuple[list[Any], int, int]:
    """All raw position rows of one account: (rows, pages read, cold-read retries)."""
    rows: list[Any] = []
    retries = 0
    pages = 0
    for page in range(max_pages):
        path = f"/portfolio/{account_id}/positions/{page}"
        batch = as_list(client.get(path))
        pages += 1
        if page == 0 and is_cold_read(batch):
            retries += 1
            log.info("positions page 0 of an account came back without security definitions; reading it again")
            batch = as_list(client.get(path))
            pages += 1
        rows.extend(batch)
        if len(batch) < page_size:
            break
    else:
        log.warning("stopped paging positions after %d pages", max_pages)
    return rows, pages, retries


def fetch_positions(
    client: ApiClient,
    account_id: str,
    *,
    snapshot_date: dt.date | str,
    page_size: int = PAGE_SIZE,
) -> PositionsFetch:
    """Page /portfolio/{id}/positions/{n} from 0 (re-reading a cold page 0 once) into `positions` rows."""
    rows, pages, retries = fetch_position_records(client, account_id, page_size=page_size)
    frame = parse_positions(rows, account_id=account_id, snapshot_date=snapshot_date)
    return PositionsFetch(frame=frame, pages=pages, cold_read_retries=retries)
