"""PA transactions: /pa/transactions (Portfolio Analyst) into the `pa_transactions` table.

IBKR answers one conid per call (reference §2.7), ``days`` back from today, and gives no
transaction id: a row is keyed by its account, conid, date and its place among that date's rows
(``seq``, oldest first). The reference says IBKR lists transactions newest first, a recorded answer
lists them oldest first; the order of each (account, conid) list is read from its dates, and
taken as newest first when the dates cannot tell (all on one date).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from typing import Any, Mapping, Sequence

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.common import (
    as_float,
    as_int,
    as_list,
    as_str,
    as_yyyymmdd,
    col,
    extra_json,
    map_record,
    rows_to_frame,
    to_json,
)
from ibkr_pipelines.windows import DateWindow

log = logging.getLogger(__name__)

TABLE = "pa_transactions"
TRANSACTIONS_PATH = "/pa/transactions"

_COLUMNS = (
    col("type"),
    col("quantity", "qty", convert=as_float),
    col("price", "pr", convert=as_float),
    col("amount", "amt", convert=as_float),
    col("currency", "cur"),
    col("fx_rate", "fxRate", convert=as_float),
    col("description", "desc"),
)
_HANDLED = ("rawDate", "date", "acctid", "conid")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# Java's Date.toString(): "Tue Mar 31 00:00:00 EDT 2026" (the zone is the calendar date's, not converted).
_JAVA_DATE = re.compile(r"^\w{3} (\w{3}) (\d{1,2}) \d{2}:\d{2}:\d{2} \S+ (\d{4})$")


def date_from_text(value: Any) -> dt.date | None:
    """The calendar date of IBKR's ``date`` text, e.g. "Tue Mar 31 00:00:00 EDT 2026"; null when it does not parse."""
    match = _JAVA_DATE.match(value.strip()) if isinstance(value, str) else None
    if match is None or match.group(1) not in _MONTHS:
        return None
    try:
        return dt.date(int(match.group(3)), _MONTHS[match.group(1)], int(match.group(2)))
    except ValueError:
        return None


def _transaction_row(record: Any, account_id: str | None, conid: int | None) -> dict[str, Any]:
    """One transaction object -> one row without ``seq``; what does not convert is left null (kept in raw_extra)."""
    if not isinstance(record, Mapping):
        return {"account_id": account_id, "conid": conid, "raw_extra": extra_json({"value": record})}
    row, extra = map_record(record, _COLUMNS, consumed=_HANDLED)
    raw, text = record.get("rawDate"), record.get("date")
    from_raw, from_text = as_yyyymmdd(raw), date_from_text(text)
    if from_raw is None and raw not in (None, ""):
        extra["rawDate"] = raw
    if text not in (None, "") and (from_text is None or (from_raw is not None and from_raw != from_text)):
        extra["date"] = text
    row_conid = as_int(record.get("conid"))
    if row_conid is None and record.get("conid") not in (None, ""):
        extra["conid"] = record.get("conid")
    row.update(
        trade_date=from_raw or from_text,
        account_id=as_str(record.get("acctid")) or account_id,
        conid=row_conid if row_conid is not None else conid,
        raw_extra=extra_json(extra),
    )
    return row


def _listed_newest_first(dates: Sequence[dt.date | None]) -> bool:
    """Whether a list runs newest first, read from its dates; True (the reference's order) when they cannot tell."""
    known = [d for d in dates if d is not None]
    pairs = list(zip(known, known[1:]))
    if any(a < b for a, b in pairs) and not any(a > b for a, b in pairs):
        return False
    if any(a < b for a, b in pairs) and any(a > b for a, b in pairs):
        log.warning("/pa/transactions listed dates in no order; numbering each date's rows newest first")
    return True


def _number(rows: list[dict[str, Any]]) -> None:
    """Set ``seq``: 1, 2... per (account, conid, date), oldest first."""
    lists: dict[tuple[Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        lists[(row.get("account_id"), row.get("conid"))].append(row)
    for listed in lists.values():
        ordered = list(reversed(listed)) if _listed_newest_first([r.get("trade_date") for r in listed]) else listed
        counters: dict[Any, int] = defaultdict(int)
        for row in ordered:
            counters[row.get("trade_date")] += 1
            row["seq"] = counters[row.get("trade_date")]


def parse_pa_transactions(
    body: Any, *, window: DateWindow, account_id: str | None = None, conid: int | None = None
) -> pl.DataFrame:
    """A transactions answer -> `pa_transactions` rows dated in ``window`` (undated rows stay, for quarantine).

    ``account_id`` and ``conid`` stand in for rows that name none (the one account and conid asked).
    """
    rows = [_transaction_row(r, account_id, conid) for r in as_list(body, "transactions")]
    _number(rows)
    kept = [r for r in rows if r.get("trade_date") is None or window.start <= r["trade_date"] <= window.end]
    return rows_to_frame(TABLE, kept)


def days_back(window: DateWindow, today: dt.date) -> int:
    """IBKR's ``days`` reaching from ``today`` back to the window's start, both included (at least 1)."""
    return max(1, (today - window.start).days + 1)


def fetch_pa_transactions(
    client: ApiClient, account_ids: tuple[str, ...], conids: Sequence[int], window: DateWindow, today: dt.date
) -> pl.DataFrame:
    """POST /pa/transactions once per conid (IBKR takes one) for ``account_ids``; rows dated in ``window``."""
    days = days_back(window, today)
    frames = []
    for conid in conids:
        body = client.post(TRANSACTIONS_PATH, json={"acctIds": list(account_ids), "conids": [conid], "days": days})
        if not isinstance(body, Mapping) or "error" in body:
            raise IbkrPipelinesError(
                f"POST {TRANSACTIONS_PATH} for conid {conid} answered {to_json(body)[:300]} instead of transactions"
            )
        only_account = account_ids[0] if len(account_ids) == 1 else None
        frames.append(parse_pa_transactions(body, window=window, account_id=only_account, conid=conid))
    return pl.concat(frames) if frames else rows_to_frame(TABLE, [])
