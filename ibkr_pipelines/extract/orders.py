"""Orders: /iserver/account/orders into the `orders` table, one snapshot per date.

IBKR lists the orders of the current brokerage session plus open ones, at most 1000 (reference
§2.6), and the list is cached: a pre-flight call with ``force=true`` clears the cache (that call
answers an empty list), then the second call answers the orders.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.common import (
    as_date,
    as_float,
    as_int,
    as_side,
    as_str,
    col,
    extra_json,
    instant_of,
    map_record,
    rows_to_frame,
    to_json,
)

log = logging.getLogger(__name__)

TABLE = "orders"
ORDERS_PATH = "/iserver/account/orders"
ORDERS_CAP = 1000  # IBKR returns at most this many orders (reference §2.6)
LAST_EXECUTION_FORMAT = "%y%m%d%H%M%S"  # lastExecutionTime, e.g. "260401234047"; assumed UTC

_COLUMNS = (
    col("conid", convert=as_int),
    col("symbol", "ticker"),
    col("sec_type", "secType"),
    col("side", convert=as_side),
    col("status"),
    col("order_ccp_status"),
    col("order_type", "orderType"),
    col("orig_order_type", "origOrderType"),
    col("time_in_force", "timeInForce"),
    col("limit_price", "price", convert=as_float),
    col("avg_price", "avgPrice", convert=as_float),
    col("total_size", "totalSize", convert=as_float),
    col("filled_quantity", "filledQuantity", convert=as_float),
    col("remaining_quantity", "remainingQuantity", convert=as_float),
    col("total_cash_size", "totalCashSize", convert=as_float),
    col("cash_currency", "cashCcy"),
    col("listing_exchange", "listingExchange"),
    col("company_name", "companyName"),
    col("description", "orderDesc"),
    col("order_ref"),
)
_HANDLED = ("orderId", "acct", "account", "conidex", "lastExecutionTime", "lastExecutionTime_r")


@dataclass(frozen=True)
class OrdersFetch:
    """The orders of one snapshot date, and whether IBKR's cap of 1000 orders may have cut the list."""

    frame: pl.DataFrame
    capped: bool


def _order_row(record: Any, day: dt.date) -> dict[str, Any]:
    """One order object -> one `orders` row; what does not convert is left null (and kept in raw_extra)."""
    if not isinstance(record, Mapping):
        return {"snapshot_date": day, "raw_extra": extra_json({"value": record})}
    row, extra = map_record(record, _COLUMNS, consumed=_HANDLED)
    order_id = as_int(record.get("orderId"))
    if order_id is None and record.get("orderId") not in (None, ""):
        extra["orderId"] = record.get("orderId")
    acct, account = as_str(record.get("acct")), as_str(record.get("account"))
    if acct and account and acct != account:
        extra["account"] = account
    if record.get("conidex") not in (None, "") and as_str(record.get("conidex")) != as_str(row.get("conid")):
        extra["conidex"] = record.get("conidex")
    row.update(
        snapshot_date=day,
        order_id=order_id,
        account_id=acct or account,
        last_execution_time=instant_of(record, "lastExecutionTime_r", "lastExecutionTime", LAST_EXECUTION_FORMAT, extra),
        raw_extra=extra_json(extra),
    )
    return row


def _order_list(body: Any) -> list[Any]:
    """The orders of an answer (``{"orders": [...]}``, or a bare list); anything else raises."""
    if body is None:
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping) and isinstance(body.get("orders"), list):
        return body["orders"]
    if isinstance(body, Mapping) and not body.get("orders") and not body.get("error"):
        return []  # {"snapshot": false} or {"orders": null}: no orders to list
    raise IbkrPipelinesError(f"GET {ORDERS_PATH} answered {to_json(body)[:300]} instead of a list of orders")


def parse_orders(body: Any, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """An orders answer -> one `orders` row per order; rows that do not convert are kept for quarantine."""
    day = as_date(snapshot_date)
    return rows_to_frame(TABLE, [_order_row(r, day) for r in _order_list(body)])


def fetch_orders(client: ApiClient, snapshot_date: dt.date | str, account_ids: tuple[str, ...] | None) -> OrdersFetch:
    """Clear IBKR's orders cache (pre-flight), read the orders, keep ``account_ids``' (None: all)."""
    client.get(ORDERS_PATH, params={"force": "true"})  # answers [] by design: it only clears the cache
    orders = _order_list(client.get(ORDERS_PATH))
    capped = len(orders) >= ORDERS_CAP
    if capped:
        log.warning(
            "GET %s returned %d orders, IBKR's cap of %d: older orders of the session may be missing",
            ORDERS_PATH, len(orders), ORDERS_CAP,
        )
    frame = parse_orders(orders, snapshot_date=snapshot_date)
    if account_ids is not None:
        # A row naming no account stays, so validation quarantines it rather than it vanishing.
        frame = frame.filter(pl.col("account_id").is_null() | pl.col("account_id").is_in(list(account_ids)))
    return OrdersFetch(frame=frame, capped=capped)
