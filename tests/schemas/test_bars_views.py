"""The price views of issue 10 (account_base_currency, bars_daily, daily_returns, position_value_history,
position_value_totals) on a few hand-made rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ibkr_pipelines.land.warehouse import Warehouse
from tests.schemas.warehouse_rows import insert_rows as _insert, query_dicts as _rows
from ibkr_pipelines.trading_calendar import trading_date

MAR_27, MAR_30, MAR_31 = dt.date(2026, 3, 27), dt.date(2026, 3, 30), dt.date(2026, 3, 31)
APR_1, APR_2, APR_3, APR_6 = dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3), dt.date(2026, 4, 6)
# Apr 3 2026 is Good Friday: no bars (a positions snapshot of that date has no close).
VIEWS = ("account_base_currency", "bars_daily", "daily_returns", "position_value_history", "position_value_totals")
AAPL, SAP, EURUSD, ES, UNKNOWN, OPTION, BOND = 1, 2, 3, 4, 5, 6, 7


def _pick(row: dict[str, Any], names: str) -> tuple[Any, ...]:
    """The row's values of the space-separated column names, in that order."""
    return tuple(row[name] for name in names.split())


def _utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.timezone.utc)


def _bar(conid: int, start: dt.datetime, close: float, size: str = "1d", source: str = "Trades",
         outside_rth: bool = False) -> dict[str, Any]:
    """One bars row; bar_date is the New York date of its start, as the history extractor writes it."""
    return {"bar_date": trading_date(start), "conid": conid, "symbol": f"B{conid}", "bar_size": size,
            "source": source, "outside_rth": outside_rth, "bar_start_utc": start.replace(tzinfo=None),
            "open": close, "high": close, "low": close, "close": close}


def _contract(conid: int, ticker: str, currency: str, asset_class: str,
              multiplier: float | None = None) -> dict[str, Any]:
    return {"conid": conid, "ticker": ticker, "currency": currency, "asset_class": asset_class,
            "multiplier": multiplier, "first_seen_date": MAR_27, "last_seen_date": APR_6}


def _ledger(account: str, day: dt.date, currency: str, rate: float) -> dict[str, Any]:
    return {"snapshot_date": day, "account_id": account, "currency": currency, "exchange_rate": rate}


def _position(account: str, day: dt.date, conid: int, position: float, currency: str, asset_class: str,
              mkt_value: float, base_mkt_value: float, multiplier: float | None = None) -> dict[str, Any]:
    return {"snapshot_date": day, "account_id": account, "conid": conid, "model": "", "position": position,
            "currency": currency, "asset_class": asset_class, "mkt_value": mkt_value, "base_mkt_value": base_mkt_value,
            "mkt_price": mkt_value / position / (multiplier or 1.0), "multiplier": multiplier, "ticker": f"T{conid}"}


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    found = Warehouse(tmp_path / "ibkr.duckdb", lock_timeout=5.0)
    found.ensure_schema()
    return found


@pytest.fixture
def prices(warehouse: Warehouse) -> Warehouse:
    """Bars of a US stock, a German stock, an FX pair and a future; accounts in USD (U1, U3) and EUR (U2)."""
    _insert(warehouse, "accounts", [
        {"snapshot_date": MAR_30, "account_id": "U1", "base_currency": "USD"},
        {"snapshot_date": MAR_31, "account_id": "U1", "base_currency": None},  # a row that names none
        {"snapshot_date": MAR_30, "account_id": "U2", "base_currency": "EUR"},
        {"snapshot_date": APR_1, "account_id": "U3", "base_currency": "USD"},
    ])
    _insert(warehouse, "contracts", [
        _contract(AAPL, "AAPL", "USD", "STK"),
        _contract(SAP, "SAP", "EUR", "STK"),
        _contract(EURUSD, "EUR", "USD", "CASH"),
        _contract(ES, "ES", "USD", "FUT", 50.0),
        _contract(OPTION, "AAPL C", "USD", "OPT", 100.0),
    ])
    _insert(warehouse, "ledger", [
        # USD base: EUR at 1.10 on the 30th, nothing on the 31st (carried forward), 1.20 and 1.22 on Apr 1.
        _ledger("U1", MAR_30, "EUR", 1.10), _ledger("U1", MAR_30, "USD", 1.0), _ledger("U1", MAR_30, "BASE", 1.0),
        _ledger("U1", APR_1, "EUR", 1.20), _ledger("U3", APR_1, "EUR", 1.22),
        # EUR base: USD at 0.9 on the 30th only.
        _ledger("U2", MAR_30, "USD", 0.9), _ledger("U2", MAR_30, "EUR", 1.0),
    ])
    _insert(warehouse, "bars", [
        # AAPL. Fri Mar 27: a 1d bar before any ledger rate.
        _bar(AAPL, _utc(MAR_27, 13, 30), 98.0),
        # Mon: the 1d Trades regular-hours bar beats a later 1min bar and the outside-RTH 1d bar.
        _bar(AAPL, _utc(MAR_30, 13, 30), 100.0),
        _bar(AAPL, _utc(MAR_30, 19, 59), 100.5, "1min"),
        _bar(AAPL, _utc(MAR_30, 8, 0), 101.0, outside_rth=True),
        # Tue: no 1d bar. The last intraday bar is the one ending last (the 1h bar ending 20:00 UTC, not the
        # 1min bar that starts later but ends at 19:31); Midpoint, outside-RTH and Bid_Ask bars lose.
        _bar(AAPL, _utc(MAR_31, 18, 0), 101.8, "1h"),
        _bar(AAPL, _utc(MAR_31, 19, 0), 102.0, "1h"),
        _bar(AAPL, _utc(MAR_31, 19, 30), 101.9, "1min"),
        _bar(AAPL, _utc(MAR_31, 19, 59), 102.5, "1min", "Midpoint"),
        _bar(AAPL, _utc(MAR_31, 23, 59), 103.0, "1min", outside_rth=True),
        _bar(AAPL, _utc(MAR_31, 19, 59), 102.7, "1min", "Bid_Ask"),
        # Wed: regular-hours Midpoint beats outside-RTH Trades.
        _bar(AAPL, _utc(APR_1, 19, 58), 103.5, "1min", "Midpoint"),
        _bar(AAPL, _utc(APR_1, 19, 59), 104.0, "1min", "Midpoint"),
        _bar(AAPL, _utc(APR_1, 23, 59), 105.0, "1min", outside_rth=True),
        # Thu: outside-RTH bars only; the last one (19:59 New York) gives the close. A 1w bar is never used.
        _bar(AAPL, _utc(APR_2, 22, 0), 105.5, "1min", outside_rth=True),
        _bar(AAPL, _utc(APR_2, 23, 59), 106.0, "1min", outside_rth=True),
        _bar(AAPL, _utc(APR_2, 13, 30), 99.0, "1w"),
        # Good Friday and the weekend: no bars. Mon Apr 6:
        _bar(AAPL, _utc(APR_6, 13, 30), 110.0),
        # SAP in EUR: 1d bars opening 09:00 Frankfurt (07:00 UTC).
        _bar(SAP, _utc(MAR_30, 7), 50.0), _bar(SAP, _utc(MAR_31, 7), 55.0), _bar(SAP, _utc(APR_1, 7), 60.0),
        # EUR.USD: Midpoint only, sessions opening 17:15 New York the evening before; the Sunday evening's 1d
        # bar is Monday's close, and beats Monday's last intraday bar (23:59 New York, Tuesday's session).
        _bar(EURUSD, _utc(MAR_30, 21, 15) - dt.timedelta(days=1), 1.15, source="Midpoint"),
        _bar(EURUSD, _utc(MAR_30, 21, 15), 1.16, source="Midpoint"),
        _bar(EURUSD, _utc(MAR_31, 3, 59), 1.158, "1min", "Midpoint"),
        # ES: outside-RTH 1d bars open 18:00 New York the evening before; Monday's regular-hours bar wins.
        _bar(ES, _utc(MAR_30, 22) - dt.timedelta(days=1), 5000.0, outside_rth=True),
        _bar(ES, _utc(MAR_30, 13, 30), 5010.0),
        _bar(ES, _utc(MAR_30, 22), 5020.0, outside_rth=True),
        # A contract that is not landed: no currency, so no base close.
        _bar(UNKNOWN, _utc(MAR_30, 13, 30), 7.0),
    ])
    return warehouse


@pytest.mark.parametrize("view", VIEWS)
def test_views_answer_on_empty_tables(warehouse: Warehouse, view: str) -> None:
    assert warehouse.query_readonly(f"SELECT count(*) FROM {view}")[1] == [(0,)]


def test_account_base_currency_is_the_newest_named_one(prices: Warehouse) -> None:
    rows = prices.query_readonly("SELECT * FROM account_base_currency ORDER BY account_id")[1]
    assert rows == [("U1", "USD", MAR_30), ("U2", "EUR", MAR_30), ("U3", "USD", APR_1)]


def _closes(warehouse: Warehouse, base: str | None = "USD") -> dict[tuple[int, dt.date], dict[str, Any]]:
    where = "base_currency IS NULL" if base is None else f"base_currency = '{base}'"
    return {(r["conid"], r["bar_date"]): r for r in _rows(warehouse, f"SELECT * FROM bars_daily WHERE {where}")}


def test_bars_daily_prefers_the_regular_hours_day_bar_then_the_last_intraday_bar(prices: Warehouse) -> None:
    closes = _closes(prices)
    aapl = {day: (r["close_local"], r["bar_size"], r["source"], r["outside_rth"])
            for (conid, day), r in closes.items() if conid == AAPL}
    assert aapl == {
        MAR_27: (98.0, "1d", "Trades", False),
        MAR_30: (100.0, "1d", "Trades", False),
        MAR_31: (102.0, "1h", "Trades", False),
        APR_1: (104.0, "1min", "Midpoint", False),
        APR_2: (106.0, "1min", "Trades", True),
        APR_6: (110.0, "1d", "Trades", False),
    }
    assert _pick(closes[(AAPL, MAR_31)], "symbol currency bar_start_utc") == ("AAPL", "USD", dt.datetime(2026, 3, 31, 19))


def test_bars_daily_counts_an_evening_day_bar_on_the_date_it_closes(prices: Warehouse) -> None:
    closes = _closes(prices)
    fx = {day: _pick(r, "close_local bar_size bar_start_utc") for (c, day), r in closes.items() if c == EURUSD}
    assert fx == {MAR_30: (1.15, "1d", dt.datetime(2026, 3, 29, 21, 15)),
                  MAR_31: (1.16, "1d", dt.datetime(2026, 3, 30, 21, 15))}
    es = {day: _pick(r, "close_local outside_rth") for (c, day), r in closes.items() if c == ES}
    assert es == {MAR_30: (5010.0, False), MAR_31: (5020.0, True)}


def test_bars_daily_converts_with_the_ledger_rate_carried_forward(prices: Warehouse) -> None:
    usd = _closes(prices, "USD")
    sap = {day: _pick(r, "close_local currency fx_rate rate_date close_base") for (c, day), r in usd.items() if c == SAP}
    assert sap == {
        MAR_30: (50.0, "EUR", 1.10, MAR_30, pytest.approx(55.0)),
        MAR_31: (55.0, "EUR", 1.10, MAR_30, pytest.approx(60.5)),  # no ledger on the 31st: the 30th's rate
        APR_1: (60.0, "EUR", pytest.approx(1.21), APR_1, pytest.approx(72.6)),  # U1 1.20 and U3 1.22: their mean
    }
    # A USD contract in USD: rate 1 on every date, even before the ledger has any rate.
    rate = "fx_rate rate_date close_base"
    assert [_pick(usd[(AAPL, d)], rate) for d in (MAR_27, APR_6)] == [(1.0, MAR_27, 98.0), (1.0, APR_6, 110.0)]
    # The same in EUR: no rate before the ledger's first (Mar 30), then the 30th's 0.9 carried to Apr 6.
    eur = _closes(prices, "EUR")
    assert [_pick(eur[(AAPL, d)], rate) for d in (MAR_27, APR_6)] == [(None, None, None), (0.9, MAR_30, pytest.approx(99.0))]
    assert _pick(eur[(SAP, MAR_31)], rate) == (1.0, MAR_31, 55.0)
    assert _pick(usd[(UNKNOWN, MAR_30)], "symbol currency close_local close_base") == ("B5", None, 7.0, None)


def test_bars_daily_has_one_row_per_base_currency(prices: Warehouse) -> None:
    counts = prices.query_readonly(
        "SELECT base_currency, count(*), count(DISTINCT (conid, bar_date)) FROM bars_daily GROUP BY 1 ORDER BY 1")[1]
    assert counts == [("EUR", 14, 14), ("USD", 14, 14)]


def test_bars_daily_without_accounts_has_local_closes_only(warehouse: Warehouse) -> None:
    _insert(warehouse, "contracts", [_contract(SAP, "SAP", "EUR", "STK")])
    _insert(warehouse, "bars", [_bar(SAP, _utc(MAR_30, 7), 50.0)])
    rows = warehouse.query_readonly("SELECT conid, bar_date, close_local, base_currency, close_base FROM bars_daily")[1]
    assert rows == [(SAP, MAR_30, 50.0, None, None)]


def test_daily_returns_run_from_the_previous_close_skipping_the_holiday(prices: Warehouse) -> None:
    rows = _rows(prices, f"SELECT * FROM daily_returns WHERE conid = {AAPL} AND base_currency = 'USD' ORDER BY bar_date")
    assert [_pick(r, "bar_date prev_date prev_close_local") for r in rows] == [
        (MAR_27, None, None), (MAR_30, MAR_27, 98.0), (MAR_31, MAR_30, 100.0), (APR_1, MAR_31, 102.0),
        (APR_2, APR_1, 104.0), (APR_6, APR_2, 106.0),  # Good Friday and the weekend have no close
    ]
    assert [r["return_local"] for r in rows] == [
        None, pytest.approx(100 / 98 - 1), pytest.approx(0.02), pytest.approx(104 / 102 - 1),
        pytest.approx(106 / 104 - 1), pytest.approx(110 / 106 - 1)]
    assert [r["return_base"] for r in rows] == [r["return_local"] for r in rows]  # USD in a USD base
    assert rows[0]["symbol"] == "AAPL" and rows[0]["currency"] == "USD"


def test_daily_returns_in_base_currency_include_the_fx_move(prices: Warehouse) -> None:
    sap = _rows(prices, f"SELECT * FROM daily_returns WHERE conid = {SAP} ORDER BY base_currency, bar_date")
    eur = [_pick(r, "bar_date return_local return_base") for r in sap if r["base_currency"] == "EUR"]
    assert eur == [(MAR_30, None, None), (MAR_31, pytest.approx(0.1), pytest.approx(0.1)),
                   (APR_1, pytest.approx(60 / 55 - 1), pytest.approx(60 / 55 - 1))]
    usd = [_pick(r, "bar_date prev_close_base return_local return_base") for r in sap if r["base_currency"] == "USD"]
    assert usd == [
        (MAR_30, None, None, None),
        (MAR_31, pytest.approx(55.0), pytest.approx(0.1), pytest.approx(0.1)),  # the rate carried: no FX move
        (APR_1, pytest.approx(60.5), pytest.approx(60 / 55 - 1), pytest.approx(72.6 / 60.5 - 1)),
    ]
    # AAPL in EUR: no rate before Mar 30, so the first base return is null although the local one is not.
    aapl = _rows(prices, f"SELECT * FROM daily_returns WHERE conid = {AAPL} AND base_currency = 'EUR'")
    mar_30 = [_pick(r, "return_local prev_close_base return_base") for r in aapl if r["bar_date"] == MAR_30]
    assert mar_30 == [(pytest.approx(100 / 98 - 1), None, None)]


@pytest.fixture
def holdings(prices: Warehouse) -> Warehouse:
    """Positions of U1 (USD), U2 (EUR) and U9 (not in accounts) on top of the prices."""
    _insert(prices, "contracts", [_contract(BOND, "T 4 1/4", "USD", "BOND")])
    _insert(prices, "bars", [_bar(BOND, _utc(MAR_31, 13, 30), 98.5)])
    _insert(prices, "positions", [
        # U1, Mar 31: IBKR's multiplier 0 for a stock; the FUT multiplier; an option with no bars; a bond
        # (face value x percent); a virtual FX cash row (the pair's conid).
        _position("U1", MAR_31, AAPL, 10, "USD", "STK", 1021.0, 1021.0, multiplier=0.0),
        _position("U1", MAR_31, SAP, 20, "EUR", "STK", 1100.0, 1210.0),
        _position("U1", MAR_31, ES, 2, "USD", "FUT", 502000.0, 502000.0, multiplier=50.0),
        _position("U1", MAR_31, OPTION, 1, "USD", "OPT", 300.0, 300.0),
        _position("U1", MAR_31, BOND, 10000, "USD", "BOND", 9850.0, 9850.0),
        _position("U1", MAR_31, EURUSD, 1000, "USD", "CASH", 1160.0, 1160.0),
        # U1, Apr 1: SAP valued at the mean ledger rate 1.21, the snapshot at IBKR's 1.20.
        _position("U1", APR_1, AAPL, 10, "USD", "STK", 1040.0, 1040.0),
        _position("U1", APR_1, SAP, 20, "EUR", "STK", 1200.0, 1440.0),
        # U1, Good Friday: held, no close.
        _position("U1", APR_3, AAPL, 10, "USD", "STK", 1040.0, 1040.0),
        # U2 in EUR: AAPL at 102 x 0.9.
        _position("U2", MAR_31, AAPL, 5, "USD", "STK", 510.0, 459.0),
        # U9: no base currency known.
        _position("U9", MAR_30, SAP, 1, "EUR", "STK", 50.0, 55.0),
    ])
    return prices


def test_position_value_history_values_positions_at_the_close(holdings: Warehouse) -> None:
    rows = {(r["account_id"], r["snapshot_date"], r["conid"]): r
            for r in _rows(holdings, "SELECT * FROM position_value_history")}
    assert len(rows) == 11
    aapl = rows[("U1", MAR_31, AAPL)]
    assert _pick(aapl, "symbol base_currency multiplier close_local close_bar_size close_source value_local value_base") == (
        "T1", "USD", 1.0, 102.0, "1h", "Trades", 1020.0, 1020.0)
    assert _pick(aapl, "snapshot_price snapshot_value_local difference_local difference_base") == (
        pytest.approx(102.1), 1021.0, -1.0, -1.0)
    sap = rows[("U1", MAR_31, SAP)]
    assert _pick(sap, "currency close_local fx_rate value_local") == ("EUR", 55.0, 1.10, 1100.0)
    assert _pick(sap, "close_base value_base difference_base") == (
        pytest.approx(60.5), pytest.approx(1210.0), pytest.approx(0.0))
    es = rows[("U1", MAR_31, ES)]
    assert _pick(es, "multiplier close_local value_local value_base") == (50.0, 5020.0, 502000.0, 502000.0)
    assert _pick(rows[("U1", MAR_31, BOND)], "multiplier value_local") == (0.01, pytest.approx(9850.0))
    fx_cash = rows[("U1", MAR_31, EURUSD)]  # valued, but position_value_totals leaves it out
    assert _pick(fx_cash, "is_cash close_local value_base") == (True, 1.16, pytest.approx(1160.0))
    u2 = rows[("U2", MAR_31, AAPL)]
    assert _pick(u2, "base_currency fx_rate close_base value_local value_base") == (
        "EUR", 0.9, pytest.approx(91.8), 510.0, pytest.approx(459.0))


def test_position_value_history_keeps_positions_without_a_close(holdings: Warehouse) -> None:
    rows = {(r["account_id"], r["snapshot_date"], r["conid"]): r
            for r in _rows(holdings, "SELECT * FROM position_value_history")}
    option = rows[("U1", MAR_31, OPTION)]  # the contract's multiplier; no bars landed for it
    assert _pick(option, "symbol multiplier close_local value_local value_base snapshot_value_local difference_local") == (
        "T6", 100.0, None, None, None, 300.0, None)
    holiday = rows[("U1", APR_3, AAPL)]
    assert _pick(holiday, "close_local value_local snapshot_value_base") == (None, None, 1040.0)
    # An account missing from accounts: the local close and value, no base ones.
    u9 = rows[("U9", MAR_30, SAP)]
    assert _pick(u9, "base_currency close_local value_local close_base fx_rate value_base") == (
        None, 50.0, 50.0, None, None, None)


def test_position_value_totals_add_up_per_account_and_date(holdings: Warehouse) -> None:
    rows = _rows(holdings, "SELECT * FROM position_value_totals ORDER BY account_id, snapshot_date")
    names = ("account_id snapshot_date base_currency positions positions_unvalued value_base futures_notional_base "
             "snapshot_value_base difference_base complete")
    assert [_pick(r, names) for r in rows] == [
        # 1020 + 1210 + 502000 + 9850; the option has no close, the cash row is left out.
        ("U1", MAR_31, "USD", 5, 1, pytest.approx(514080.0), 502000.0, pytest.approx(514081.0), pytest.approx(-1.0),
         False),
        ("U1", APR_1, "USD", 2, 0, pytest.approx(1040.0 + 1452.0), 0.0, 2480.0, pytest.approx(12.0), True),
        ("U1", APR_3, "USD", 1, 1, 0.0, 0.0, 0.0, 0.0, False),
        ("U2", MAR_31, "EUR", 1, 0, pytest.approx(459.0), 0.0, 459.0, pytest.approx(0.0), True),
        ("U9", MAR_30, None, 1, 1, 0.0, 0.0, 0.0, 0.0, False),
    ]
