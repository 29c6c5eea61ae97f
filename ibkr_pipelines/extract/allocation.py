"""Allocation: /portfolio/{id}/allocation ({dimension: {side: {bucket: value}}}) into flat rows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.common import as_date, as_float, extra_json, rows_to_frame

TABLE = "allocation"

_DIMENSIONS = {"assetClass": "asset_class", "sector": "sector", "group": "group"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def parse_allocation(body: Any, *, account_id: str, snapshot_date: dt.date | str) -> pl.DataFrame:
    """An allocation object -> one `allocation` row per (dimension, side, bucket).

    Known dimensions are renamed (assetClass -> asset_class); a new dimension of the same shape is
    kept under its snake_case name. A value that is not a number is kept in ``raw_extra``.
    """
    day = as_date(snapshot_date)
    rows: list[dict[str, Any]] = []
    if not isinstance(body, Mapping):
        return rows_to_frame(TABLE, rows)
    for source_dim, sides in body.items():
        if not isinstance(sides, Mapping):
            continue
        dimension = _DIMENSIONS.get(source_dim, _snake(source_dim))
        for side, buckets in sides.items():
            if not isinstance(buckets, Mapping):
                continue
            for bucket, raw in buckets.items():
                value = as_float(raw)
                extra = {"value": raw} if value is None and raw is not None else {}
                rows.append({
                    "snapshot_date": day,
                    "account_id": account_id,
                    "dimension": dimension,
                    "side": side,
                    "bucket": bucket,
                    "value": value,
                    "raw_extra": extra_json(extra),
                })
    return rows_to_frame(TABLE, rows)


def fetch_allocation(client: ApiClient, account_id: str, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Call /portfolio/{id}/allocation for one account and return its `allocation` rows."""
    body = client.get(f"/portfolio/{account_id}/allocation")
    return parse_allocation(body, account_id=account_id, snapshot_date=snapshot_date)
