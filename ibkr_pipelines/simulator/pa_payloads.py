"""JSON bodies of /pa/performance, /pa/allperiods and /pa/transactions (reference §2.7).

Key names, nesting and JSON types follow the recordings Portfolio/POST-pa-performance.json,
POST-pa-allperiods.json and POST-pa-transactions.json; the reference's examples add ``rc``. NAVs are
written in cents (the ledger's values, so a client reconciles them to the cent), returns with about
five significant digits as the recordings show.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import NEW_YORK, UTC, close_datetime
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.performance import PeriodWindow, Series, period_window, series, significant
from ibkr_pipelines.simulator.world import Execution, World

# Guess: the periods /pa/allperiods answers per account (the recording shows "1D" and "7D" and lists
# them in "periods"; the OpenAPI period enum of /pa/performance names these eight).
ALL_PERIODS = ("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.lru_cache(maxsize=8192)
def _ymd(d: datetime.date) -> str:
    return d.strftime("%Y%m%d")


def _nd(first: datetime.date, end: datetime.date) -> int:
    """``nd``: calendar days from the first date through the last, both counted (recordings: 32, 60, 31)."""
    return (end - first).days + 1


def _start(w: PeriodWindow) -> datetime.date:
    return w.dates[0] if w.dates else w.start_nav_date


def _entry(s: Series, entry_id: str, id_type: str) -> dict[str, Any]:
    """The fields every data entry of /pa/performance carries."""
    return {"id": entry_id, "idType": id_type, "start": _ymd(_start(s.window)), "end": _ymd(s.window.end),
            "baseCurrency": s.currency}


def performance(views: Views, account_ids: list[str], period: str, today: datetime.date) -> dict[str, Any]:
    """Body of /pa/performance: one series, consolidated when several accounts are asked for."""
    s = series(views, account_ids, period_window(period, today, views.world.start))
    if len(account_ids) == 1:
        entry_id, id_type = account_ids[0], "acctid"  # recording
    else:
        # Reference §2.7: "If you pass more than one account, the result is consolidated". Guess: one
        # data entry with this id and idType, in the first account's base currency.
        entry_id, id_type = "consolidated", "consolidated"
    dates = [_ymd(d) for d in s.window.dates]
    nav = _entry(s, entry_id, id_type) | {
        "startNAV": {"date": _ymd(s.window.start_nav_date), "val": s.start_nav}, "navs": s.navs}
    return {
        "currencyType": "base", "rc": 0,
        "nav": {"data": [nav], "freq": "D", "dates": dates},  # guess: daily whatever the period's length
        "nd": _nd(_start(s.window), s.window.end),
        "cps": {"data": [_entry(s, entry_id, id_type) | {"returns": [significant(r) for r in s.cumulative]}],
                "freq": "D", "dates": dates},
        "tpps": {"data": [_entry(s, entry_id, id_type) | {"returns": [significant(r, 6) for r in s.monthly]}],
                 "freq": "M", "dates": s.months},
        "id": "getPerformanceData", "included": list(account_ids), "pm": "TWR",
    }


def all_periods(views: Views, account_ids: list[str], today: datetime.date) -> dict[str, Any]:
    """Body of /pa/allperiods: every period of every account, one key per account (not consolidated)."""
    first = views.world.start
    end = period_window("1D", today, first).end
    body: dict[str, Any] = {"pm": "TWR", "rc": 0, "nd": _nd(first, end), "id": "getPerformanceAllPeriods",
                            "currencyType": "base", "view": list(account_ids), "included": list(account_ids)}
    for aid in account_ids:
        per: dict[str, Any] = {}
        for period in ALL_PERIODS:
            s = series(views, [aid], period_window(period, today, first))
            per[period] = {"freq": "D",  # guess: daily for every period
                           "startNAV": {"date": _ymd(s.window.start_nav_date), "val": s.start_nav},
                           "dates": [_ymd(d) for d in s.window.dates], "nav": s.navs,
                           "cps": [significant(r) for r in s.cumulative]}
        per.update({
            "baseCurrency": views.world.account_by_id[aid].currency,
            "start": _ymd(first),  # guess: the account's first day of data (the world's first date)
            "end": _ymd(end), "periods": list(ALL_PERIODS),
            # Guess: the sim's now (the close of today, UTC); the recording shows a time that evening.
            "lastSuccessfulUpdate": close_datetime(today).strftime("%Y-%m-%d %H:%M:%S"),
        })
        body[aid] = per
    return body


def _ny_midnight_text(d: datetime.date) -> str:
    """``Tue Mar 31 00:00:00 EDT 2026``: New York midnight of a date, as the recording writes it (English names)."""
    zone = datetime.datetime(d.year, d.month, d.day, tzinfo=NEW_YORK).tzname()
    return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} 00:00:00 {zone} {d.year}"


def _epoch_ms_utc_midnight(d: datetime.date) -> int:
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _amount_text(x: float) -> str:
    """rpnl amounts: strings with up to four decimals (reference "12.2516", recording "0.0")."""
    return repr(round(x + 0.0, 4))


def transactions(world: World, account_ids: list[str], conid: int, currency: str, days: int,
                 today: datetime.date, oldest_first: bool = False) -> dict[str, Any]:
    """Body of /pa/transactions: one contract's executions in these accounts over the last ``days`` days, and its realized P&L."""
    first = today - datetime.timedelta(days=days)
    now = close_datetime(today)
    c = world.contracts.get(conid)
    rows: list[tuple[Any, dict[str, Any]]] = []
    rpnl: dict[tuple[str, datetime.date], dict[str, Any]] = {}
    for aid in account_ids:
        for e, realized, side in world.realized_fills(aid, conid) if c is not None else []:
            # Guess: the trade date is the world's (the exchange's) date, the date positions and cash book it.
            if not first <= e.trade_date <= today or e.trade_time > now:
                continue
            rows.append(((e.trade_date, e.trade_time, e.exec_id), _transaction(world, c, e, currency)))
            if realized:
                item = rpnl.setdefault((aid, e.trade_date), {
                    "date": _ymd(e.trade_date), "cur": c.currency,
                    "fxRate": world.fx_rate(c.currency, currency, e.trade_date), "side": side, "acctid": aid,
                    "amt": 0.0, "conid": str(conid)})
                item["amt"] += realized
    # OpenAPI (transactions model): "Sorted by date descending"; the recording lists its two oldest first.
    rows.sort(key=lambda r: r[0], reverse=not oldest_first)
    data = sorted(rpnl.values(), key=lambda r: (r["date"], r["acctid"]))
    total = sum(r["amt"] * r["fxRate"] for r in data)
    for r in data:
        r["amt"] = _amount_text(r["amt"])
    return {
        "rc": 0, "nd": days + 1, "rpnl": {"data": data, "amt": _amount_text(total)}, "currency": currency,
        # Recording: from/to are UTC midnights of the first and the last day (the reference example
        # has New York midnights); nd counts both days.
        "from": _epoch_ms_utc_midnight(first), "id": "getTransactions", "to": _epoch_ms_utc_midnight(today),
        "includesRealTime": True, "transactions": [t for _, t in rows],
    }


def _transaction(world: World, c: Contract, e: Execution, currency: str) -> dict[str, Any]:
    """One execution as a /pa/transactions entry (recording's key order)."""
    qty = e.signed_quantity
    return {
        "cur": c.currency, "date": _ny_midnight_text(e.trade_date), "rawDate": _ymd(e.trade_date),
        # Guess: fxRate converts the contract's currency into the requested one (1.0 when they agree).
        "fxRate": world.fx_rate(c.currency, currency, e.trade_date), "pr": e.price, "qty": qty,
        # Recording: Buy 4 @ 645.155 -> -2580.62: minus quantity x price (x multiplier), in cents; it
        # is the world's trade cash leg for the fill.
        "acctid": e.account, "amt": round(-qty * e.price * c.value_multiplier + 0.0, 2), "conid": c.conid,
        "type": "Buy" if qty > 0 else "Sell", "desc": c.name,
    }
