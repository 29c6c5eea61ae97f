"""NAV and returns: /pa/allperiods (Portfolio Analyst) into the `nav_daily` and `returns_daily` tables.

One POST answers every account asked (``{"acctIds": [...]}``): per account a map of periods
(``1D``, ``7D``, ``1M``...) to ``{freq, startNAV, dates[], nav[], cps[]}`` (reference §2.7). For each
account the daily period (freq ``D``) with the most dates is read, so every date comes from one
series: ``cps`` is the cumulative time-weighted return from the period's ``startNAV`` date, and the
return of a day is ``(1+cps_t)/(1+cps_{t-1})-1`` (the first date: ``cps_0`` itself).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Mapping

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.common import as_float, as_str, as_yyyymmdd, extra_json, rows_to_frame, to_json
from ibkr_pipelines.windows import DateWindow

log = logging.getLogger(__name__)

NAV_TABLE = "nav_daily"
RETURNS_TABLE = "returns_daily"
ALLPERIODS_PATH = "/pa/allperiods"
# IBKR documents no cap on acctIds per call; 500 is a guess, large enough that 150 accounts are one call.
ALLPERIODS_ACCOUNTS_PER_CALL = 500

_PERIOD_FIELDS = ("freq", "startNAV", "dates", "nav", "cps")
_ACCOUNT_FIELDS = ("periods", "baseCurrency")
# Top-level fields that change what the numbers mean; kept in raw_extra when not the usual values.
_EXPECTED_TOP = {"pm": "TWR", "currencyType": "base"}


def _is_period(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("dates"), list)


def _account_ids(body: Mapping[str, Any]) -> list[str]:
    """The accounts of an answer: the ids in ``view``/``included``, and every key holding periods."""
    ids: list[str] = []
    for key in ("view", "included"):
        listed = body.get(key)
        if isinstance(listed, list):
            ids += [str(a) for a in listed if isinstance(a, (str, int)) and not isinstance(a, bool)]
    ids += [key for key, value in body.items() if isinstance(value, Mapping) and any(map(_is_period, value.values()))]
    return list(dict.fromkeys(ids))


def _periods(entry: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """An account's periods in ``periods`` order, then any other period entries in key order."""
    listed = entry.get("periods")
    names = [str(p) for p in listed if isinstance(p, str)] if isinstance(listed, list) else []
    names += [k for k in entry if k not in names]
    return [(name, entry[name]) for name in names if _is_period(entry.get(name))]


def pick_daily_period(entry: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The daily (freq "D") period with the most dates (ties: the first in ``periods`` order); None if none."""
    daily = [(name, period) for name, period in _periods(entry) if period.get("freq") == "D"]
    return max(daily, key=lambda item: len(item[1]["dates"])) if daily else None


def _at(values: Any, index: int) -> Any:
    return values[index] if isinstance(values, list) and index < len(values) else None


def _daily_return(cps: float | None, previous: float | None, first: bool) -> float | None:
    """One day's return from the period's cumulative returns (the first date's is relative to startNAV)."""
    if first:
        return cps
    if cps is None or previous is None or previous == -1.0:
        return None
    return (1.0 + cps) / (1.0 + previous) - 1.0


def _check_reach(account_id: str, entry: Mapping[str, Any], name: str, period: Mapping[str, Any],
                 window: DateWindow) -> None:
    """Refuse a window that starts before the daily series, unless the account's data starts later anyway."""
    start = period.get("startNAV") if isinstance(period.get("startNAV"), Mapping) else {}
    series_start = as_yyyymmdd(start.get("date")) or as_yyyymmdd(_at(period.get("dates"), 0))
    account_start = as_yyyymmdd(entry.get("start"))
    if series_start is None or series_start <= window.start:
        return
    if account_start is not None and account_start >= series_start:
        return  # the account has no data before its series: nothing is missing
    raise IbkrPipelinesError(
        f"/pa/allperiods' longest daily NAV series for {account_id} ({name}) starts on {series_start}, after "
        f"{window.start}: land a shorter window (from {series_start}), or those dates from Flex statements"
    )


def _account_rows(
    account_id: str, entry: Mapping[str, Any], top_extra: Mapping[str, Any], window: DateWindow
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nav and returns rows of one account's daily period, for the dates inside ``window``."""
    picked = pick_daily_period(entry)
    if picked is None:
        log.warning("/pa/allperiods has no daily period for account %s: no NAV or returns for it", account_id)
        return [], []
    name, period = picked
    _check_reach(account_id, entry, name, period, window)
    period_names = {n for n, _ in _periods(entry)}
    account_extra = {k: v for k, v in entry.items() if k not in period_names and k not in _ACCOUNT_FIELDS}
    period_extra = {k: v for k, v in period.items() if k not in _PERIOD_FIELDS}
    start = period.get("startNAV") if isinstance(period.get("startNAV"), Mapping) else {}
    shared = {"account_id": account_id, "base_currency": as_str(entry.get("baseCurrency")), "period": name}
    nav_rows, return_rows = [], []
    previous: float | None = None
    for index, raw_date in enumerate(period["dates"]):
        day = as_yyyymmdd(raw_date)
        raw_nav, raw_cps = _at(period.get("nav"), index), _at(period.get("cps"), index)
        nav, cps = as_float(raw_nav), as_float(raw_cps)
        daily = _daily_return(cps, previous, first=index == 0)
        previous = cps
        if day is not None and not window.start <= day <= window.end:
            continue
        extra = {**top_extra, **account_extra, **period_extra}
        if start:
            extra["startNAV"] = dict(start)
        for field, raw, value in (("date", raw_date, day), ("nav", raw_nav, nav), ("cps", raw_cps, cps)):
            if value is None and raw not in (None, ""):
                extra[field] = raw  # did not convert: kept as sent
        nav_rows.append({**shared, "nav_date": day, "nav": nav, "raw_extra": extra_json(extra)})
        return_rows.append({
            **shared, "return_date": day, "daily_return": daily, "cumulative_return": cps,
            "period_start": as_yyyymmdd(start.get("date")),
        })
    return nav_rows, return_rows


def parse_allperiods(body: Any, *, window: DateWindow) -> dict[str, pl.DataFrame]:
    """An allperiods answer -> ``{"nav_daily": ..., "returns_daily": ...}``, one row per account and date in ``window``."""
    nav_rows: list[dict[str, Any]] = []
    return_rows: list[dict[str, Any]] = []
    if isinstance(body, Mapping):
        top_extra = {k: body[k] for k, usual in _EXPECTED_TOP.items() if k in body and body[k] != usual}
        for account_id in _account_ids(body):
            entry = body.get(account_id)
            if not isinstance(entry, Mapping):
                log.warning("/pa/allperiods lists account %s but gives no periods for it", account_id)
                continue
            navs, returns = _account_rows(account_id, entry, top_extra, window)
            nav_rows += navs
            return_rows += returns
    return {NAV_TABLE: rows_to_frame(NAV_TABLE, nav_rows), RETURNS_TABLE: rows_to_frame(RETURNS_TABLE, return_rows)}


def fetch_nav_and_returns(
    client: ApiClient, account_ids: tuple[str, ...], window: DateWindow
) -> dict[str, pl.DataFrame]:
    """POST /pa/allperiods for ``account_ids`` (chunks of ``ALLPERIODS_ACCOUNTS_PER_CALL``); rows of those accounts only."""
    parts: dict[str, list[pl.DataFrame]] = {NAV_TABLE: [], RETURNS_TABLE: []}
    for start in range(0, len(account_ids), ALLPERIODS_ACCOUNTS_PER_CALL):
        chunk = list(account_ids[start : start + ALLPERIODS_ACCOUNTS_PER_CALL])
        body = client.post(ALLPERIODS_PATH, json={"acctIds": chunk})
        if not isinstance(body, Mapping) or "error" in body:
            raise IbkrPipelinesError(
                f"POST {ALLPERIODS_PATH} for {len(chunk)} account(s) answered {to_json(body)[:300]} "
                "instead of an object keyed by account"
            )
        for table, frame in parse_allperiods(body, window=window).items():
            parts[table].append(frame.filter(pl.col("account_id").is_in(chunk)))
    return {
        table: pl.concat(frames) if frames else rows_to_frame(table, [])
        for table, frames in parts.items()
    }
