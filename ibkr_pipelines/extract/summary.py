"""Account summary: /portfolio/{id}/summary (a flat object of metrics) into long-form rows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import (
    as_bool,
    as_date,
    as_float,
    as_int,
    as_str,
    col,
    extra_json,
    from_epoch_auto,
    map_record,
    rows_to_frame,
    to_json,
)

TABLE = "account_summary"

_COLUMNS = (
    col("amount", convert=as_float),
    col("currency"),
    col("value_text", "value", convert=lambda v: None if v is None else (v if isinstance(v, str) else to_json(v))),
    col("is_null", "isNull", convert=as_bool),
    col("reported_at", "timestamp", convert=from_epoch_auto),
    col("severity", convert=as_int),
)


def parse_account_summary(body: Any, *, account_id: str, snapshot_date: dt.date | str) -> pl.DataFrame:
    """A summary object -> one `account_summary` row per metric key (e.g. ``netliquidation``)."""
    day = as_date(snapshot_date)
    rows: list[dict[str, Any]] = []
    if isinstance(body, Mapping):
        for metric, entry in body.items():
            if isinstance(entry, Mapping):
                row, extra = map_record(entry, _COLUMNS)
            else:  # an unexpected scalar: keep it whole rather than guess
                row, extra = {"value_text": as_str(entry)}, {"value": entry}
            row.update(snapshot_date=day, account_id=account_id, metric=metric, raw_extra=extra_json(extra))
            rows.append(row)
    return rows_to_frame(TABLE, rows)


def fetch_account_summary(client: ApiClient, account_id: str, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Call /portfolio/{id}/summary for one account and return its `account_summary` rows."""
    body = client.get(f"/portfolio/{account_id}/summary")
    return parse_account_summary(body, account_id=account_id, snapshot_date=snapshot_date)
