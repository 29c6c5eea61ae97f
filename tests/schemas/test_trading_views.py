"""The trading and performance views (trade_blotter, daily_trading_summary, nav_and_returns) on a few rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ibkr_pipelines.land.warehouse import Warehouse
from tests.schemas.warehouse_rows import insert_rows as _insert, query_dicts as _rows

MAR_29, MAR_30, MAR_31, APR_1 = dt.date(2026, 3, 29), dt.date(2026, 3, 30), dt.date(2026, 3, 31), dt.date(2026, 4, 1)
VIEWS = ("trade_blotter", "daily_trading_summary", "nav_and_returns")


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    found = Warehouse(tmp_path / "ibkr.duckdb", lock_timeout=5.0)
    found.ensure_schema()
    return found


def _contract(conid: int, ticker: str, currency: str, multiplier: float | None, asset_class: str) -> dict[str, Any]:
    return {"conid": conid, "ticker": ticker, "currency": currency, "multiplier": multiplier,
            "asset_class": asset_class, "first_seen_date": MAR_29, "last_seen_date": APR_1}


def _ledger(day: dt.date, currency: str, rate: float, nlv: float | None = None) -> dict[str, Any]:
    return {"snapshot_date": day, "account_id": "U1", "currency": currency, "exchange_rate": rate,
            "net_liquidation_value": nlv}


def _execution(execution_id: str, day: dt.date, conid: int, side: str, quantity: float, price: float,
               commission: float | None, sec_type: str = "STK") -> dict[str, Any]:
    return {"trade_date": day, "execution_id": execution_id, "account_id": "U1", "conid": conid, "symbol": f"S{conid}",
            "sec_type": sec_type, "side": side, "quantity": quantity, "price": price, "commission": commission,
            "trade_time": dt.datetime.combine(day, dt.time(15, 0))}


@pytest.fixture
def trading(warehouse: Warehouse) -> Warehouse:
    _insert(warehouse, "contracts", [
        _contract(1, "AAPL", "USD", None, "STK"),   # IBKR leaves a stock's multiplier empty...
        _contract(2, "SAP", "EUR", 0.0, "STK"),     # ...or 0
        _contract(3, "ES", "USD", 50.0, "FUT"),
    ])
    _insert(warehouse, "ledger", [
        _ledger(MAR_30, "USD", 1.0), _ledger(MAR_30, "EUR", 1.10), _ledger(MAR_30, "BASE", 1.0, 100000.0),
        _ledger(APR_1, "USD", 1.0), _ledger(APR_1, "EUR", 1.20), _ledger(APR_1, "BASE", 1.0, 100000.0),
    ])
    _insert(warehouse, "executions", [
        _execution("e1", MAR_31, 1, "B", 10, 100.0, 1.0),     # no ledger on the 31st: the 30th's rates
        _execution("e2", MAR_31, 2, "S", 5, 50.0, 2.0),
        _execution("e3", APR_1, 3, "B", 2, 5000.0, 2.5, "FUT"),
        _execution("e4", APR_1, 2, "S", 10, 60.0, 1.0),
        _execution("e5", MAR_29, 1, "B", 1, 100.0, None),     # before any ledger: no rate
        _execution("e6", MAR_29, 99, "B", 1, 3.0, 1.0, "OPT"),  # contract not landed, not a stock
    ])
    return warehouse


@pytest.mark.parametrize("view", VIEWS)
def test_views_answer_on_empty_tables(warehouse: Warehouse, view: str) -> None:
    assert warehouse.query_readonly(f"SELECT count(*) FROM {view}")[1] == [(0,)]


def test_trade_blotter_values_trades_in_trade_and_base_currency(trading: Warehouse) -> None:
    rows = {r["execution_id"]: r for r in _rows(trading, "SELECT * FROM trade_blotter")}
    e1, e2, e3, e4, e5, e6 = (rows[f"e{i}"] for i in range(1, 7))
    assert (e1["symbol"], e1["currency"], e1["multiplier"], e1["notional"]) == ("AAPL", "USD", 1.0, 1000.0)
    assert (e1["exchange_rate"], e1["rate_date"], e1["notional_base"], e1["commission_base"]) == (1.0, MAR_30, 1000.0, 1.0)
    assert (e2["currency"], e2["multiplier"], e2["notional"]) == ("EUR", 1.0, -250.0)
    assert e2["rate_date"] == MAR_30
    assert e2["notional_base"] == pytest.approx(-275.0) and e2["commission_base"] == pytest.approx(2.2)
    assert (e3["multiplier"], e3["notional"], e3["notional_base"], e3["rate_date"]) == (50.0, 500000.0, 500000.0, APR_1)
    assert e4["notional_base"] == pytest.approx(-720.0) and e4["exchange_rate"] == 1.2
    assert (e5["notional"], e5["rate_date"], e5["notional_base"], e5["commission_base"]) == (100.0, None, None, None)
    assert (e6["symbol"], e6["currency"], e6["multiplier"], e6["notional"]) == ("S99", None, None, None)


def test_daily_trading_summary_adds_up_the_blotter(trading: Warehouse) -> None:
    rows = _rows(trading, "SELECT * FROM daily_trading_summary ORDER BY account_id, trade_date")
    by_date = {r["trade_date"]: r for r in rows}
    assert list(by_date) == [MAR_29, MAR_31, APR_1]
    mar_31 = by_date[MAR_31]
    assert (mar_31["executions"], mar_31["buys"], mar_31["sells"]) == (2, 1, 1)
    assert mar_31["bought_base"] == 1000.0 and mar_31["sold_base"] == pytest.approx(275.0)
    assert mar_31["commissions_base"] == pytest.approx(3.2) and mar_31["executions_without_rate"] == 0
    apr_1 = by_date[APR_1]
    assert (apr_1["bought_base"], apr_1["sold_base"]) == (500000.0, pytest.approx(720.0))
    assert apr_1["commissions_base"] == pytest.approx(3.7)
    mar_29 = by_date[MAR_29]
    assert (mar_29["executions"], mar_29["buys"], mar_29["bought_base"], mar_29["executions_without_rate"]) == (2, 2, 0.0, 2)


def test_nav_and_returns_compounds_and_checks_the_ledger(trading: Warehouse) -> None:
    navs = [(MAR_30, 100000.0), (MAR_31, 101000.0), (APR_1, 99990.0)]
    _insert(trading, "nav_daily", [{"nav_date": d, "account_id": "U1", "nav": n, "base_currency": "USD", "period": "1M"}
                                   for d, n in navs])
    _insert(trading, "nav_daily", [{"nav_date": MAR_31, "account_id": "U2", "nav": 5.0, "base_currency": "EUR"}])
    returns = [(MAR_30, 0.01), (MAR_31, 0.01), (APR_1, -0.01)]
    _insert(trading, "returns_daily", [{"return_date": d, "account_id": "U1", "daily_return": r, "period": "1M"}
                                       for d, r in returns])
    _insert(trading, "returns_daily", [{"return_date": MAR_31, "account_id": "U2", "daily_return": 0.05}])
    rows = _rows(trading, "SELECT * FROM nav_and_returns ORDER BY account_id, nav_date")
    u1 = [r for r in rows if r["account_id"] == "U1"]
    assert [r["nav_date"] for r in u1] == [MAR_30, MAR_31, APR_1]
    assert [r["cumulative_return"] for r in u1] == pytest.approx([0.01, 1.01**2 - 1, 1.01**2 * 0.99 - 1])
    assert [r["ledger_nav"] for r in u1] == [100000.0, None, 100000.0]
    assert [r["nav_difference"] for r in u1] == [0.0, None, -10.0]
    assert u1[0]["base_currency"] == "USD" and u1[2]["daily_return"] == -0.01
    (u2,) = [r for r in rows if r["account_id"] == "U2"]
    assert (u2["nav"], u2["base_currency"], u2["cumulative_return"], u2["ledger_nav"]) == (5.0, "EUR", pytest.approx(0.05), None)
