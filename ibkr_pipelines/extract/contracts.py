"""Contracts: /trsrv/secdef in batches of at most 200 conids into the `contracts` dimension."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping

import polars as pl

from ibkr_pipelines.client.limits import SECDEF_MAX_CONIDS
from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import (
    as_bool,
    as_date,
    as_int,
    as_list,
    col,
    extra_json,
    map_record,
    rows_to_frame,
)
from ibkr_pipelines.extract.secdef_fields import SECDEF_COLUMNS

TABLE = "contracts"

_COLUMNS = (
    *SECDEF_COLUMNS,
    col("is_us", "isUS", convert=as_bool),
    col("has_options", "hasOptions", convert=as_bool),
    col("is_event_contract", "isEventContract", convert=as_bool),
)


def _contract_row(record: Mapping[str, Any], day: dt.date) -> dict[str, Any]:
    row, extra = map_record(record, _COLUMNS, consumed=("conid",))
    conid = as_int(record.get("conid"))
    if conid is None and record.get("conid") is not None:
        extra["conid"] = record.get("conid")
    row.update(conid=conid, first_seen_date=day, last_seen_date=day, raw_extra=extra_json(extra))
    return row


def parse_contracts(body: Any, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """A secdef body (``{"secdef": [...]}``, a bare list, or None for 204) -> `contracts` rows."""
    day = as_date(snapshot_date)
    rows = [_contract_row(r, day) for r in as_list(body, "secdef") if isinstance(r, Mapping)]
    return rows_to_frame(TABLE, rows)


def conid_batches(conids: Iterable[Any], size: int = SECDEF_MAX_CONIDS) -> list[list[int]]:
    """Unique integer conids (first-seen order) split into batches IBKR accepts."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    seen: dict[int, None] = {}
    for raw in conids:
        conid = as_int(raw)
        if conid is not None:
            seen.setdefault(conid, None)
    unique = list(seen)
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def fetch_contracts(
    client: ApiClient,
    conids: Iterable[Any],
    snapshot_date: dt.date | str,
    *,
    batch_size: int = SECDEF_MAX_CONIDS,
) -> pl.DataFrame:
    """Call /trsrv/secdef?conids=... per batch of at most 200 and return `contracts` rows (204 -> none)."""
    frames = []
    for batch in conid_batches(conids, min(batch_size, SECDEF_MAX_CONIDS)):
        body = client.get("/trsrv/secdef", {"conids": ",".join(str(c) for c in batch)})
        frames.append(parse_contracts(body, snapshot_date=snapshot_date))
    if not frames:
        return parse_contracts(None, snapshot_date=snapshot_date)
    return pl.concat(frames, how="vertical")
