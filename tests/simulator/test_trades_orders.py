"""/iserver/account/trades and /iserver/account/orders: recorded shapes, the 7-day window, the cold first
read, the pre-flight, force, filters, the 1000-order cap, and trades that reconcile with the world's cash."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.clock import close_datetime, new_york_date
from ibkr_pipelines.simulator.orders import ORDERS_MAX, session_orders

from .conftest import TODAY
from .test_fidelity import recorded_body, shape_errors

NOW_MS = int(close_datetime(TODAY).timestamp() * 1000)


def _ready(http: requests.Session, sim: Simulator) -> None:
    """The brokerage tier's call-order rule: /iserver/accounts first."""
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 200


def _trades(http: requests.Session, sim: Simulator, **params: Any) -> list[dict[str, Any]]:
    r = http.get(sim.base_url + "/iserver/account/trades", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _warm_trades(http: requests.Session, sim: Simulator, **params: Any) -> list[dict[str, Any]]:
    """Trades after the session's cold first read."""
    _ready(http, sim)
    _trades(http, sim)
    return _trades(http, sim, **params)


def _orders(http: requests.Session, sim: Simulator, **params: Any) -> dict[str, Any]:
    r = http.get(sim.base_url + "/iserver/account/orders", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ----- trades ------------------------------------------------------------------------------------

def test_trades_have_the_recorded_and_documented_shape(sim: Simulator, http: requests.Session) -> None:
    rows = _warm_trades(http, sim, days=7)
    assert rows
    recorded = recorded_body("Orders/GET-trades.json")[0]
    # The reference's example (§2.6): every field, price and commission strings, net_amount a number.
    documented = {"execution_id": "", "symbol": "", "supports_tax_opt": "", "side": "", "order_description": "",
                  "trade_time": "", "trade_time_r": 0, "size": 0.0, "price": "", "order_ref": "", "submitter": "",
                  "exchange": "", "commission": "", "net_amount": 0.0, "account": "", "accountCode": "",
                  "account_allocation_name": "", "company_name": "", "contract_description_1": "",
                  "sec_type": "", "listing_exchange": "", "conid": 0, "conidEx": "", "clearing_id": "",
                  "clearing_name": "", "liquidation_trade": "", "is_event_trading": "", "order_id": 0}
    forms = Counter()
    for row in rows:
        # price: a string (reference) or a number (recording); both parse to the same value
        numeric = isinstance(row["price"], float)
        as_documented = dict(row, price=repr(row["price"]) if numeric else row["price"])
        assert not shape_errors(documented, as_documented), row
        as_recorded = dict(row, price=float(row["price"]))
        assert not shape_errors(recorded, as_recorded), row
        assert row["side"] in ("B", "S", "BOT", "SLD")
        float(row["commission"])
        verb = "Bought" if row["side"] in ("B", "BOT") else "Sold"
        assert row["order_description"] == f"{verb} {row['size']:g} @ {float(row['price'])!r} on {row['exchange']}"
        t = datetime.datetime.strptime(row["trade_time"], "%Y%m%d-%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        assert int(t.timestamp() * 1000) == row["trade_time_r"]
        forms[(row["side"] in ("BOT", "SLD"), numeric)] += 1
    # every form is served, the reference's the most
    assert forms[(False, False)] > len(rows) / 2 and forms[(True, False)] and forms[(False, True)]


def test_trades_window_is_seven_new_york_days_up_to_now(sim: Simulator, http: requests.Session,
                                                        world: Any) -> None:
    week = _warm_trades(http, sim, days=7)
    today = _trades(http, sim)  # no days: today only
    capped = _trades(http, sim, days=30)  # guess: more than 7 is served as 7
    assert capped == week
    assert today and len(today) < len(week)

    def ny_day(row: dict[str, Any]) -> datetime.date:
        return new_york_date(datetime.datetime.fromtimestamp(row["trade_time_r"] / 1000, datetime.timezone.utc))

    first = TODAY - datetime.timedelta(days=6)
    assert all(first <= ny_day(r) <= TODAY and r["trade_time_r"] <= NOW_MS for r in week)
    assert all(ny_day(r) == TODAY for r in today)
    # exactly the world's executions of that window: none missing, none from after now
    expected = {e.exec_id for e in world.executions
                if first <= new_york_date(e.trade_time) <= TODAY and e.trade_time <= close_datetime(TODAY)}
    assert {r["execution_id"] for r in week} == expected
    assert any(e.trade_time > close_datetime(TODAY) for e in world.executions)  # later fills exist, left out
    # Asian fills count on the New York day before their UTC date
    assert any(ny_day(r) != datetime.datetime.strptime(r["trade_time"][:8], "%Y%m%d").date() for r in week)


def test_cold_first_read_per_brokerage_session(sim: Simulator, http: requests.Session) -> None:
    _ready(http, sim)
    assert _trades(http, sim, days=7) == []  # reference §6: the first read of a session can be []
    full = _trades(http, sim, days=7)
    assert full
    assert _trades(http, sim, days=7) == full
    # a new brokerage session (idled out, then ssodh/init) is cold again
    sim.expire_session()
    assert http.post(sim.base_url + "/iserver/auth/ssodh/init", json={"publish": True, "compete": True}).ok
    _ready(http, sim)
    assert _trades(http, sim, days=7) == []
    assert _trades(http, sim, days=7) == full
    # so is a new login
    sim.expire_login()
    sim.login()
    _ready(http, sim)
    assert _trades(http, sim, days=7) == []


def test_trades_need_accounts_and_the_brokerage_session(make_sim: Callable[..., Simulator],
                                                        http: requests.Session) -> None:
    sim = make_sim()
    r = http.get(sim.base_url + "/iserver/account/trades")
    assert r.status_code == 500 and r.json() == {"error": "Please query /accounts first"}
    sim.compete()
    r = http.get(sim.base_url + "/iserver/account/trades")
    assert r.status_code == 400 and r.json()["error"] == "Bad Request: no bridge"


def test_trades_per_account_and_bad_account(sim: Simulator, http: requests.Session) -> None:
    every = _warm_trades(http, sim, days=7)
    accounts = {r["account"] for r in every}
    assert len(accounts) > 2
    for acct in accounts:
        one = _trades(http, sim, days=7, accountId=acct)
        assert one == [r for r in every if r["account"] == acct]
    r = http.get(sim.base_url + "/iserver/account/trades", params={"accountId": "U0000001"})
    assert r.status_code == 400
    assert r.json() == {"error": "Bad Request: accountId is not valid: U0000001", "statusCode": 400}


def test_net_amount_and_commission_reconcile_with_the_world_cash(sim: Simulator, http: requests.Session,
                                                                 world: Any) -> None:
    rows = _warm_trades(http, sim, days=7)
    legs: dict[str, list[Any]] = {}
    for ev in world.cash_events:
        if ev.ref in {r["execution_id"] for r in rows}:
            legs.setdefault(ev.ref, []).append(ev)
    classes = Counter()
    for r in rows:
        execution = next(e for e in world.executions_for(r["account"]) if e.exec_id == r["execution_id"])
        events = legs[r["execution_id"]]
        fee = [ev for ev in events if ev.kind == "commission"]
        assert len(fee) == 1 and fee[0].amount == -float(r["commission"]) and fee[0].currency == execution.currency
        leg = [ev for ev in events if ev.kind in ("trade", "fx") and ev.currency == execution.currency]
        if r["sec_type"] == "FUT":
            assert not leg  # futures settle P&L, not notional
        else:
            assert len(leg) == 1 and abs(leg[0].amount) == r["net_amount"], (r, leg)
            assert (leg[0].amount < 0) == (r["side"] in ("B", "BOT"))
        classes[r["sec_type"]] += 1
    assert classes["STK"] and len(classes) >= 2


# ----- orders ------------------------------------------------------------------------------------

def test_orders_preflight_then_the_recorded_shape(sim: Simulator, http: requests.Session) -> None:
    _ready(http, sim)
    first = _orders(http, sim)
    assert first == recorded_body("Orders/GET-live-orders-empty.json")  # reference §2.6: pre-flight call
    body = _orders(http, sim)
    recorded = recorded_body("Orders/GET-live-orders.json")
    assert not shape_errors(recorded, body)
    statuses = Counter(o["status"] for o in body["orders"])
    assert statuses["Filled"] and statuses["Cancelled"] and statuses["Submitted"] and statuses["PreSubmitted"]
    for o in body["orders"]:
        assert o["side"] in ("BUY", "SELL")
        assert o["remainingQuantity"] + o["filledQuantity"] == o["totalSize"]
        assert o["price"] == "" if o["orderType"] == "Market" else float(o["price"]) > 0
        assert len(o["lastExecutionTime"]) == 12 and o["lastExecutionTime_r"] <= NOW_MS
        if o["status"] == "Filled":
            float(o["avgPrice"])
    times = [o["lastExecutionTime_r"] for o in body["orders"]]
    assert times == sorted(times, reverse=True)  # guess: newest first


def test_filled_orders_are_the_orders_of_todays_executions(sim: Simulator, http: requests.Session) -> None:
    today = _warm_trades(http, sim)
    _orders(http, sim)
    filled = [o for o in _orders(http, sim)["orders"] if o["status"] == "Filled"]
    by_order: dict[int, float] = {}
    for r in today:
        by_order[r["order_id"]] = by_order.get(r["order_id"], 0.0) + r["size"]
    assert {o["orderId"]: o["filledQuantity"] for o in filled} == by_order


def test_force_filters_and_account(sim: Simulator, http: requests.Session) -> None:
    _ready(http, sim)
    _orders(http, sim)
    every = _orders(http, sim)["orders"]
    # force=true clears the cache and answers an empty list for that call (reference §2.6)
    assert _orders(http, sim, force="true") == {"orders": [], "snapshot": False}
    assert _orders(http, sim)["orders"] == every
    only = _orders(http, sim, filters="filled,cancelled")["orders"]
    assert only == [o for o in every if o["status"] in ("Filled", "Cancelled")]
    assert {o["status"] for o in _orders(http, sim, filters="submitted")["orders"]} == {"Submitted"}
    acct = every[0]["acct"]
    assert _orders(http, sim, accountId=acct)["orders"] == [o for o in every if o["acct"] == acct]
    r = http.get(sim.base_url + "/iserver/account/orders", params={"accountId": "U0000001"})
    assert r.status_code == 400


def test_open_orders_stay_open_across_days(sim: Simulator, http: requests.Session) -> None:
    _ready(http, sim)
    _orders(http, sim)
    friday = {o["orderId"]: o for o in _orders(http, sim, filters="submitted,pre_submitted")["orders"]}
    sim.set_today(TODAY + datetime.timedelta(days=3))  # the next business day (TODAY is a Friday)
    monday = {o["orderId"]: o for o in _orders(http, sim, filters="submitted,pre_submitted")["orders"]}
    kept = set(friday) & set(monday)
    assert kept and kept != set(friday) | set(monday)  # most stay open, a few are replaced
    assert all(friday[i] == monday[i] for i in kept)
    assert all(o["timeInForce"] == "GTC" for o in monday.values())


def test_orders_are_deterministic(make_sim: Callable[..., Simulator], http: requests.Session, separate_worlds: None) -> None:
    bodies = []
    for _ in range(2):
        sim = make_sim()
        _ready(http, sim)
        _orders(http, sim)
        bodies.append(_orders(http, sim))
    assert bodies[0] == bodies[1]


@pytest.mark.slow
def test_at_most_1000_orders(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(extra_subaccounts=150, open_orders_per_account=8)
    ids = [a.id for a in sim.world.accounts]
    assert len(session_orders(sim.world, ids, TODAY, 8)) > ORDERS_MAX
    _ready(http, sim)
    _orders(http, sim)
    body = _orders(http, sim)["orders"]
    assert len(body) == ORDERS_MAX == 1000
    assert len({o["orderId"] for o in body}) == len(body)
