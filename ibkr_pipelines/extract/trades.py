"""Executions: /iserver/account/trades (the last 7 days of fills) into the `executions` table.

- One answer covers 7 days (``days=7``: today and the 6 before, reference §2.6), so a run asks once
  per account and keeps the rows whose trade date falls in its window.
- The trade date is the New York date of the fill (``trading_calendar.trading_date``), the days
  IBKR's window counts; the instant comes from ``trade_time_r`` (epoch ms), else ``trade_time``
  ("YYYYMMDD-HH:MM:SS", UTC: the reference's example gives both and they agree as UTC).
- Cold first read (reference §6): the first trades read of a session can be ``[]`` while a repeat
  is full, so an empty answer is read once more; a second empty answer means no trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.common import (
    as_bool,
    as_float,
    as_int,
    as_list,
    as_side,
    as_str,
    col,
    extra_json,
    instant_of,
    map_record,
    rows_to_frame,
    to_json,
)
from ibkr_pipelines.trading_calendar import trading_date
from ibkr_pipelines.windows import DateWindow

TABLE = "executions"
TRADES_PATH = "/iserver/account/trades"
TRADES_DAYS = 7  # IBKR's most: today plus the 6 previous days (reference §2.6)
TRADE_TIME_FORMAT = "%Y%m%d-%H:%M:%S"

_COLUMNS = (
    col("execution_id"),
    col("symbol"),
    col("sec_type"),
    col("side", convert=as_side),
    col("quantity", "size", convert=as_float),
    col("price", convert=as_float),
    col("commission", convert=as_float),
    col("net_amount", convert=as_float),
    col("exchange"),
    col("listing_exchange"),
    col("order_id", convert=as_int),
    col("order_ref"),
    col("order_description"),
    col("company_name"),
    col("contract_description", "contract_description_1"),
    col("submitter"),
    col("clearing_id"),
    col("liquidation_trade", convert=as_bool),
)
_HANDLED = ("conid", "conidEx", "account", "accountCode", "trade_time", "trade_time_r")


@dataclass(frozen=True)
class ExecutionsFetch:
    """The executions of one account in a window, and how many empty first answers were read again."""

    frame: pl.DataFrame
    cold_read_retries: int


def _execution_row(record: Any, fallback_account: str | None) -> dict[str, Any]:
    """One execution object -> one `executions` row; what does not convert is left null (and kept in raw_extra)."""
    if not isinstance(record, Mapping):
        return {"account_id": fallback_account, "raw_extra": extra_json({"value": record})}
    row, extra = map_record(record, _COLUMNS, consumed=_HANDLED)
    conid = as_int(record.get("conid"))
    if conid is None and record.get("conid") not in (None, ""):
        extra["conid"] = record.get("conid")
    if record.get("conidEx") not in (None, "") and as_str(record.get("conidEx")) != as_str(conid):
        extra["conidEx"] = record.get("conidEx")
    account, code = as_str(record.get("account")), as_str(record.get("accountCode"))
    if account and code and account != code:
        extra["accountCode"] = code
    instant = instant_of(record, "trade_time_r", "trade_time", TRADE_TIME_FORMAT, extra)
    row.update(
        trade_date=trading_date(instant) if instant is not None else None,
        account_id=account or code or fallback_account,
        conid=conid,
        trade_time=instant,
        raw_extra=extra_json(extra),
    )
    return row


def parse_trades(body: Any, *, window: DateWindow, account_id: str | None = None) -> pl.DataFrame:
    """A trades answer -> `executions` rows whose trade date is in ``window``.

    Rows without a readable time stay (null trade date) so validation quarantines them with a reason;
    ``account_id`` stands in for rows that name no account (the account the request asked about).
    """
    rows = [_execution_row(r, account_id) for r in as_list(body)]
    kept = [r for r in rows if r.get("trade_date") is None or window.start <= r["trade_date"] <= window.end]
    return rows_to_frame(TABLE, kept)


def _read_trades(client: ApiClient, account_id: str) -> list[Any]:
    """One read of the account's 7 days of trades; anything but a list (an error object with 200) raises."""
    body = client.get(TRADES_PATH, params={"days": TRADES_DAYS, "accountId": account_id})
    if body is None:  # 204 No Content: nothing to list
        return []
    if not isinstance(body, list):
        text = to_json(body)
        raise IbkrPipelinesError(
            f"GET {TRADES_PATH} for account {account_id} answered {text[:300]} instead of a list of executions"
        )
    return body


def fetch_executions(client: ApiClient, account_id: str, window: DateWindow) -> ExecutionsFetch:
    """Read an account's last 7 days of executions (an empty first answer once more) and keep ``window``'s."""
    body = _read_trades(client, account_id)
    retries = 0
    if not body:  # reference §6 "Cold first read": the first read of a session can be [] while trades exist
        retries = 1
        body = _read_trades(client, account_id)
    return ExecutionsFetch(frame=parse_trades(body, window=window, account_id=account_id), cold_read_retries=retries)
