"""Portfolio Analyst: /pa/performance, /pa/allperiods, /pa/transactions against the recordings, the
ledger (NAV to the cent), time-weighted returns (a deposit is not a return), and IBKR's 1 per 15 min."""

from __future__ import annotations

import bisect
import datetime
import math
import time
from collections import Counter
from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.clock import business_days
from ibkr_pipelines.simulator.pa_payloads import ALL_PERIODS
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.performance import nav_base, period_window, series
from ibkr_pipelines.simulator.server import BUILD_MARGIN
from ibkr_pipelines.simulator.world import CashEvent, World

from .conftest import LENIENT, TODAY, list_accounts
from .test_fidelity import recorded_body, shape_errors

PA_LENIENT = LENIENT + ",pa_performance=100000/1,pa_allperiods=100000/1,pa_transactions=100000/1"
# Around a month boundary (interest and advisor fees on 2026-11-02) and up to TODAY (a Friday).
DATES = [datetime.date(2026, 10, 29), datetime.date(2026, 10, 30), datetime.date(2026, 11, 2),
         datetime.date(2026, 11, 3), TODAY]


def _ymd(d: datetime.date) -> str:
    return d.strftime("%Y%m%d")


def _post(http: requests.Session, sim: Simulator, path: str, body: dict[str, Any], status: int = 200) -> Any:
    r = http.post(sim.base_url + path, json=body)
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def pa_sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """A simulator whose /pa scopes are lenient too."""
    return make_sim(limits_spec=PA_LENIENT)


def _busiest_conid(world: World, account: str, days: int = 90) -> int:
    """The contract of the account with the most executions of both sides in the last ``days`` days."""
    first = TODAY - datetime.timedelta(days=days)
    fills = [e for e in world.executions_for(account)
             if first <= e.trade_date <= TODAY and world.contracts[e.conid].asset_class == "STK"]
    sides: dict[int, set[str]] = {}
    for e in fills:
        sides.setdefault(e.conid, set()).add(e.side)
    counts = Counter(e.conid for e in fills if len(sides[e.conid]) == 2)
    return counts.most_common(1)[0][0]


# ----- shapes --------------------------------------------------------------------------------------

def test_shapes_match_the_recordings(pa_sim: Simulator, http: requests.Session, world: World) -> None:
    acct = "U7000011"
    got = _post(http, pa_sim, "/pa/performance", {"acctIds": [acct], "period": "1M"})
    assert not shape_errors(recorded_body("Portfolio/POST-pa-performance.json"), got)
    rec = recorded_body("Portfolio/POST-pa-allperiods.json")
    rec[acct] = rec.pop("U1234567")
    got = _post(http, pa_sim, "/pa/allperiods", {"acctIds": [acct]})
    assert not shape_errors(rec, got)
    got = _post(http, pa_sim, "/pa/transactions",
                {"acctIds": [acct], "conids": [_busiest_conid(world, acct)], "currency": "USD", "days": 90})
    assert got["transactions"] and got["rpnl"]["data"]
    assert not shape_errors(recorded_body("Portfolio/POST-pa-transactions.json"), got)


def test_performance_periods_follow_the_recorded_calendar(pa_sim: Simulator, http: requests.Session) -> None:
    # Recordings ending Thursday 2026-04-02: 1M starts 20260302 from the close of 20260227, nd 32;
    # 7D from the close of 20260326; 1D from the close of 20260401.
    end = datetime.date(2026, 4, 2)
    first = datetime.date(2024, 1, 2)
    one_m = period_window("1M", end, first)
    assert (one_m.start_nav_date, one_m.dates[0], one_m.dates[-1]) == (
        datetime.date(2026, 2, 27), datetime.date(2026, 3, 2), end)
    seven = period_window("7D", end, first)
    assert seven.start_nav_date == datetime.date(2026, 3, 26) and seven.dates[0] == datetime.date(2026, 3, 27)
    assert period_window("1D", end, first).start_nav_date == datetime.date(2026, 4, 1)
    assert period_window("YTD", end, first).start_nav_date == datetime.date(2025, 12, 31)
    assert period_window("MTD", end, first).dates == business_days(datetime.date(2026, 4, 1), end)
    # a period reaching before the world starts at its first date
    early = period_window("12M", datetime.date(2024, 3, 1), first)
    assert early.start_nav_date == first and early.dates[0] == datetime.date(2024, 1, 3)
    body = _post(http, pa_sim, "/pa/performance", {"acctIds": ["U7000011"], "period": "1M"})
    assert body["nd"] == (TODAY - datetime.date(2026, 10, 20)).days + 1 and body["nav"]["dates"][-1] == _ymd(TODAY)
    assert body["tpps"]["dates"] == ["202610", "202611"] and body["tpps"]["freq"] == "M"


def test_bad_requests(pa_sim: Simulator, http: requests.Session) -> None:
    _post(http, pa_sim, "/pa/performance", {"acctIds": ["U7000011"], "period": "last7days"}, 400)
    _post(http, pa_sim, "/pa/performance", {"acctIds": []}, 400)
    _post(http, pa_sim, "/pa/allperiods", {"acctIds": ["U0000001"]}, 400)
    default = _post(http, pa_sim, "/pa/performance", {"acctIds": ["U7000011"]})  # OpenAPI default: 12M
    assert default == _post(http, pa_sim, "/pa/performance", {"acctIds": ["U7000011"], "period": "12M"})
    conid = pa_sim.world.by_symbol["SPY"][0].conid
    for conids in ([], [conid, conid + 1], None):
        _post(http, pa_sim, "/pa/transactions", {"acctIds": ["U7000011"], "conids": conids}, 400)


# ----- NAV and returns -----------------------------------------------------------------------------

def test_nav_is_the_ledger_base_net_liquidation_value(pa_sim: Simulator, http: requests.Session) -> None:
    ids = [a.id for a in pa_sim.world.accounts]
    periods = _post(http, pa_sim, "/pa/allperiods", {"acctIds": ids})
    list_accounts(http, pa_sim)
    for d in DATES:
        pa_sim.set_today(d)
        for aid in ids:
            ledger = http.get(f"{pa_sim.base_url}/portfolio/{aid}/ledger").json()
            nlv = ledger["BASE"]["netliquidationvalue"]
            assert nav_base(pa_sim.views, aid, d) == nlv
            year = periods[aid]["12M"]
            assert year["nav"][year["dates"].index(_ymd(d))] == nlv, (aid, d)
    # the public helper takes a world too (its own views)
    assert nav_base(pa_sim.world, ids[1], DATES[2]) == nav_base(pa_sim.views, ids[1], DATES[2])


def test_allperiods_per_account_and_returns_from_navs(pa_sim: Simulator, http: requests.Session) -> None:
    ids = ["U7000011", "U7000012", "U7000099"]
    body = _post(http, pa_sim, "/pa/allperiods", {"acctIds": ids})
    assert body["id"] == "getPerformanceAllPeriods" and body["included"] == ids and body["view"] == ids
    for aid in ids:
        acct = body[aid]
        assert acct["periods"] == list(ALL_PERIODS) and acct["end"] == _ymd(TODAY)
        assert acct["baseCurrency"] == pa_sim.world.account_by_id[aid].currency
        for period in ALL_PERIODS:
            p = acct[period]
            assert p["freq"] == "D" and p["dates"][-1] == _ymd(TODAY) and len(p["nav"]) == len(p["cps"])
            days = [datetime.datetime.strptime(x, "%Y%m%d").date() for x in p["dates"]]
            assert all(d.weekday() < 5 for d in days) and days == sorted(days)
            # no flows in these periods: cumulative return = NAV / start NAV - 1 (about 5 digits)
            for nav, cps in zip(p["nav"], p["cps"]):
                assert math.isclose(cps, nav / p["startNAV"]["val"] - 1, rel_tol=1e-4, abs_tol=1e-8)
    assert body["U7000011"]["7D"]["nav"] != body["U7000012"]["7D"]["nav"]  # not consolidated


def test_performance_consolidates_several_accounts(pa_sim: Simulator, http: requests.Session) -> None:
    ids = ["U7000011", "U7000012"]  # a USD and a EUR account
    body = _post(http, pa_sim, "/pa/performance", {"acctIds": ids, "period": "MTD"})
    assert body["included"] == ids
    assert len(body["nav"]["data"]) == len(body["cps"]["data"]) == len(body["tpps"]["data"]) == 1
    entry = body["nav"]["data"][0]
    assert entry["baseCurrency"] == "USD"
    w = pa_sim.world
    for ymd, nav in zip(body["nav"]["dates"], entry["navs"]):
        d = datetime.datetime.strptime(ymd, "%Y%m%d").date()
        expected = nav_base(pa_sim.views, ids[0], d) + nav_base(pa_sim.views, ids[1], d) * w.fx_rate("EUR", "USD", d)
        assert nav == round(expected, 2)
    single = _post(http, pa_sim, "/pa/performance", {"acctIds": ids[:1], "period": "MTD"})
    assert single["nav"]["data"][0]["id"] == ids[0] and single["nav"]["data"][0]["idType"] == "acctid"
    # monthly returns compound the daily ones
    cps = body["cps"]["data"][0]["returns"]
    assert math.isclose(1 + body["tpps"]["data"][0]["returns"][-1], 1 + cps[-1], rel_tol=1e-5)


def _with_deposit(account: str, day: datetime.date, amount: float) -> World:
    """The default world with one more deposit (injected before anything was valued)."""
    w = World(7, TODAY + BUILD_MARGIN)
    events = w.cash_events_for(account)
    at = bisect.bisect_right([ev.date for ev in events], day)
    events.insert(at, CashEvent(account, day, "USD", amount, "deposit", "test deposit"))
    return w


def test_time_weighted_returns_ignore_a_deposit(world: World) -> None:
    acct, day, amount = "U7000014", datetime.date(2026, 11, 10), 2_000_000.0
    window = period_window("MTD", TODAY, world.start)
    plain = series(Views(world), [acct], window)
    funded = series(Views(_with_deposit(acct, day, amount)), [acct], window)
    i = window.dates.index(day)
    assert funded.navs[:i] == plain.navs[:i]
    assert all(math.isclose(f - p, amount, abs_tol=0.011) for f, p in zip(funded.navs[i:], plain.navs[i:]))
    # the deposit day's return is the same as without it; the NAV nearly tripled, the return did not move
    assert math.isclose(funded.daily[i], plain.daily[i], abs_tol=1e-9)
    assert funded.navs[-1] / funded.start_nav - 1 > 1.0
    assert abs(funded.cumulative[-1]) < 0.1 and abs(funded.cumulative[-1] - plain.cumulative[-1]) < 0.05


# ----- transactions --------------------------------------------------------------------------------

def test_transactions_of_one_conid(pa_sim: Simulator, http: requests.Session, world: World) -> None:
    acct = "U7000011"
    conid = _busiest_conid(world, acct)
    c = world.contracts[conid]
    body = _post(http, pa_sim, "/pa/transactions", {"acctIds": [acct], "conids": [conid], "currency": "USD"})
    assert body["id"] == "getTransactions" and body["nd"] == 91 and body["currency"] == "USD"
    rows = body["transactions"]
    first = TODAY - datetime.timedelta(days=90)
    fills = [e for e in world.executions_for(acct) if e.conid == conid and first <= e.trade_date <= TODAY]
    assert len(rows) == len(fills) and {r["type"] for r in rows} == {"Buy", "Sell"}
    raw = [r["rawDate"] for r in rows]
    assert raw == sorted(raw, reverse=True)  # OpenAPI: sorted by date descending
    trade_legs = {(ev.date, ev.amount) for ev in world.cash_events_for(acct) if ev.kind == "trade" and ev.conid == conid}
    for r in rows:
        assert (r["qty"] < 0) == (r["type"] == "Sell") and r["conid"] == conid and r["desc"] == c.name
        assert r["amt"] == round(-r["qty"] * r["pr"] * c.value_multiplier, 2)
        d = datetime.datetime.strptime(r["rawDate"], "%Y%m%d").date()
        assert (d, r["amt"]) in trade_legs
        assert r["date"].startswith(d.strftime("%a %b %d 00:00:00 ")) and r["date"][-8:-5] in ("EST", "EDT")
    # realized P&L: the positions rows' realizedPnl on each day the contract was reduced and stays open
    views = pa_sim.views
    for item in body["rpnl"]["data"]:
        d = datetime.datetime.strptime(item["date"], "%Y%m%d").date()
        row = views.valuation(acct, d).by_conid.get(conid)
        if row is not None:
            assert math.isclose(float(item["amt"]), row["realizedPnl"], abs_tol=0.006)
    # the total is in the requested currency (guess: each day's amount times its fxRate)
    total = sum(float(i["amt"]) * i["fxRate"] for i in body["rpnl"]["data"])
    assert math.isclose(float(body["rpnl"]["amt"]), total, abs_tol=0.01)


def test_transactions_oldest_first_switch(make_sim: Callable[..., Simulator], http: requests.Session,
                                          world: World) -> None:
    sim = make_sim(limits_spec=PA_LENIENT, pa_transactions_oldest_first=True)
    conid = _busiest_conid(world, "U7000011")
    rows = _post(http, sim, "/pa/transactions", {"acctIds": ["U7000011"], "conids": [conid]})["transactions"]
    assert [r["rawDate"] for r in rows] == sorted(r["rawDate"] for r in rows)


# ----- limits and size ------------------------------------------------------------------------------

def test_each_pa_endpoint_is_one_per_15_minutes(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim()  # IBKR's /pa limits (conftest's LENIENT leaves them alone)
    conid = sim.world.by_symbol["SPY"][0].conid
    for path, body in (("/pa/allperiods", {"acctIds": ["U7000011"]}),
                       ("/pa/performance", {"acctIds": ["U7000011"], "period": "7D"}),
                       ("/pa/transactions", {"acctIds": ["U7000011"], "conids": [conid]})):
        _post(http, sim, path, body)
        assert http.post(sim.base_url + path, json=body).status_code == 429, path


def test_the_simulators_own_setting_shortens_the_pa_window(make_sim: Callable[..., Simulator],
                                                           http: requests.Session) -> None:
    sim = make_sim(limits_spec=LENIENT + ",pa_allperiods=1/1")
    assert sim.limits.scopes["pa_allperiods"].windows[0].seconds == 1.0
    _post(http, sim, "/pa/allperiods", {"acctIds": ["U7000011"]})
    time.sleep(1.2)
    _post(http, sim, "/pa/allperiods", {"acctIds": ["U7000011"]})


@pytest.mark.slow
def test_allperiods_for_a_150_client_fa_in_one_call(make_sim: Callable[..., Simulator],
                                                    http: requests.Session) -> None:
    sim = make_sim(limits_spec=PA_LENIENT, extra_subaccounts=150)
    ids = [a.id for a in sim.world.accounts]
    assert len(ids) == 156
    body = _post(http, sim, "/pa/allperiods", {"acctIds": ids})
    assert body["included"] == ids
    assert all(body[aid]["1D"]["nav"] == [nav_base(sim.views, aid, TODAY)] for aid in ids)
