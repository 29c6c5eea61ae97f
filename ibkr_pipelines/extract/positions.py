"""Positions: /portfolio/{id}/positions/{page} into the `positions` table, current and complete.

- Current: IBKR caches positions per session (reference §6 "Stale positions"), so the account's cache
  is invalidated (``POST .../positions/invalidate``) before its pages are read.
- Paged: from page 0, at most 100 rows a page, with an explicit ``sort`` (a public client found that
  without one every page can repeat all rows: cquillen/ibkr-conduit commit ebdc5d7); paging stops on a
  short page or on a page that adds no row not already read, with a hard bound.
- Complete: ``waitForSecDef=true`` asks IBKR to wait for the security definitions ("If false, position
  may not have secDef portion": IBKR's OpenAPI), yet rows can still come sparse, on any page and
  again after a session is re-opened (ibind #6). A page with sparse rows is read again a few times;
  fields still missing then come from /trsrv/secdef; a row IBKR gives no definition for is left
  without one and goes to quarantine, never landed bare.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.limits import SECDEF_MAX_CONIDS
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
SPARSE_REREADS = 3  # further reads of a page whose rows lack their security definitions
PAGE_PARAMS = {"sort": "name", "direction": "a", "waitForSecDef": "true"}

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
# The security-definition fields of a position row, by their IBKR names (those /trsrv/secdef also has).
SECDEF_FIELDS = tuple(source for column in SECDEF_COLUMNS for source in column.sources) + (
    "hasOptions", "isUS", "isEventContract", "allExchanges", "chineseName", "incrementRules", "displayRule",
)


@dataclass(frozen=True)
class PositionsFetch:
    """The positions of one account plus how they were read.

    ``pages`` counts page requests (re-reads included); ``cold_read_retries`` counts re-reads of pages
    that came back without security definitions; ``secdef_filled`` counts rows completed from
    /trsrv/secdef.
    """

    frame: pl.DataFrame
    pages: int
    cold_read_retries: int
    secdef_filled: int = 0


def _position_row(record: Mapping[str, Any], account_id: str, day: dt.date) -> dict[str, Any]:
    row, extra = map_record(record, _COLUMNS, consumed=("conid", "acctId"))
    conid = as_int(record.get("conid"))
    if conid is None and record.get("conid") is not None:
        extra["conid"] = record.get("conid")
    if record.get("acctId") not in (None, account_id):
        extra["acctId"] = record.get("acctId")
    row["model"] = row.get("model") or ""  # IBKR's default model is "": part of the key, never null
    row.update(snapshot_date=day, account_id=account_id, conid=conid, raw_extra=extra_json(extra))
    return row


def parse_positions(body: Any, *, account_id: str, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Position rows (one page or several concatenated) -> `positions` rows; rows without conid are kept."""
    day = as_date(snapshot_date)
    rows = [_position_row(r, account_id, day) for r in as_list(body) if isinstance(r, Mapping)]
    return rows_to_frame(TABLE, rows)


def is_sparse(row: Any) -> bool:
    """True when a row lacks its security definition (no ``ticker`` and no ``name``)."""
    return isinstance(row, Mapping) and not any(as_str(row.get(k)) for k in _SECDEF_MARKERS)


def is_cold_read(rows: list[Any]) -> bool:
    """True when no row carries its security definition (``ticker``/``name``), as on a cold first read."""
    return not any(isinstance(r, Mapping) and not is_sparse(r) for r in rows)


def _row_key(row: Any) -> tuple[Any, Any]:
    return (row.get("conid"), row.get("model") or "") if isinstance(row, Mapping) else (id(row), None)


def _read_page(client: ApiClient, path: str) -> tuple[list[Any], int, int]:
    """One page, read again (bounded) while rows lack definitions; a row's fullest answer wins."""
    best = {_row_key(r): r for r in as_list(client.get(path, PAGE_PARAMS))}
    reads, rereads = 1, 0
    while any(is_sparse(r) for r in best.values()) and rereads < SPARSE_REREADS:
        rereads += 1
        reads += 1
        for row in as_list(client.get(path, PAGE_PARAMS)):
            key = _row_key(row)
            if key not in best or (is_sparse(best[key]) and not is_sparse(row)):
                best[key] = row
    if rereads:
        log.info("a positions page came back without security definitions; read it %d more time(s)", rereads)
    return list(best.values()), reads, rereads


def fill_from_secdef(client: ApiClient, rows: list[Any]) -> int:
    """Complete sparse rows from /trsrv/secdef (batches of 200 conids); returns how many rows were completed."""
    sparse = [r for r in rows if is_sparse(r) and as_int(r.get("conid")) is not None]
    conids = sorted({as_int(r.get("conid")) for r in sparse})
    definitions: dict[int, Mapping[str, Any]] = {}
    for start in range(0, len(conids), SECDEF_MAX_CONIDS):
        batch = conids[start : start + SECDEF_MAX_CONIDS]
        body = client.get("/trsrv/secdef", {"conids": ",".join(str(c) for c in batch)})
        for item in as_list(body, "secdef"):
            conid = as_int(item.get("conid")) if isinstance(item, Mapping) else None
            if conid is not None:
                definitions[conid] = item
    filled = 0
    for row in sparse:
        item = definitions.get(as_int(row.get("conid")))
        if item is None:
            continue
        for field in SECDEF_FIELDS:
            if row.get(field) in (None, "") and item.get(field) not in (None, ""):
                row[field] = item[field]
        filled += 0 if is_sparse(row) else 1
    return filled


def fetch_position_records(
    client: ApiClient, account_id: str, *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> tuple[list[Any], int, int]:
    """All raw position rows of one account (complete where IBKR allows): (rows, pages read, sparse re-reads)."""
    rows: dict[tuple[Any, Any], Any] = {}
    reads = rereads = 0
    for page in range(max_pages):
        batch, page_reads, page_rereads = _read_page(client, f"/portfolio/{account_id}/positions/{page}")
        reads += page_reads
        rereads += page_rereads
        new = [r for r in batch if _row_key(r) not in rows]
        rows.update((_row_key(r), r) for r in new)
        if len(batch) < page_size or not new:
            break
    else:
        log.warning("stopped paging positions after %d pages", max_pages)
    return list(rows.values()), reads, rereads


def fetch_positions(
    client: ApiClient,
    account_id: str,
    *,
    snapshot_date: dt.date | str,
    page_size: int = PAGE_SIZE,
) -> PositionsFetch:
    """Invalidate the account's cache, page its positions, complete sparse rows, and return `positions` rows."""
    client.post(f"/portfolio/{account_id}/positions/invalidate")
    rows, pages, rereads = fetch_position_records(client, account_id, page_size=page_size)
    filled = fill_from_secdef(client, rows) if any(is_sparse(r) for r in rows) else 0
    frame = parse_positions(rows, account_id=account_id, snapshot_date=snapshot_date)
    return PositionsFetch(frame=frame, pages=pages, cold_read_retries=rereads, secdef_filled=filled)
