"""One world across years (issue 6): a longer world agrees on every earlier date, the clock can cross
New Year and come back, and a clock before the world's first date is refused."""

from __future__ import annotations

import datetime
import threading
from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.simulator.catalog import FX_START_USD
from ibkr_pipelines.simulator.clock import UTC
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.world import WORLD_LAST, WORLD_START, World

from .conftest import open_brokerage

NEW_YEARS_EVE = datetime.date(2026, 12, 31)
LATER = datetime.date(2028, 6, 30)


@pytest.fixture(scope="module")
def short_and_long() -> tuple[World, World]:
    """The seed-7 world through NEW_YEARS_EVE and the same seed through LATER."""
    return World(7, NEW_YEARS_EVE), World(7, LATER)


def _sample_dates(days: list[datetime.date]) -> list[datetime.date]:
    """The last business day of every month, plus the last day."""
    out = [d for d, nxt in zip(days, days[1:]) if nxt.month != d.month]
    return out + [days[-1]]


def test_a_longer_world_agrees_on_every_earlier_date(short_and_long: tuple[World, World]) -> None:
    short, long = short_and_long
    assert short.contracts == long.contracts
    assert long.days[: len(short.days)] == short.days and short.days[-1] == NEW_YEARS_EVE
    for conid in short.contracts:
        assert [short.price(conid, d) for d in short.days] == [long.price(conid, d) for d in short.days], conid
    for ccy in FX_START_USD:
        for base in ("USD", "EUR", "GBP"):
            assert [short.fx_rate(ccy, base, d) for d in short.days] == [long.fx_rate(ccy, base, d) for d in short.days]
    assert all(e.trade_date <= NEW_YEARS_EVE for e in short.executions)
    assert [e for e in long.executions if e.trade_date <= NEW_YEARS_EVE] == short.executions
    assert [ev for ev in long.cash_events if ev.date <= NEW_YEARS_EVE] == short.cash_events
    for a in short.accounts:
        for d in _sample_dates(short.days):
            assert short.positions_as_of(a.id, d) == long.positions_as_of(a.id, d), (a.id, d)
            assert short.cash_as_of(a.id, d) == long.cash_as_of(a.id, d), (a.id, d)
        assert short.book_as_of(a.id, NEW_YEARS_EVE) == long.book_as_of(a.id, NEW_YEARS_EVE)
    short_views, long_views = Views(short), Views(long)
    for a in short.accounts:
        assert short_views.valuation(a.id, NEW_YEARS_EVE) == long_views.valuation(a.id, NEW_YEARS_EVE), a.id
        assert short_views.summary(a.id, NEW_YEARS_EVE) == long_views.summary(a.id, NEW_YEARS_EVE), a.id


def test_the_next_business_day_changes_only_what_was_traded(short_and_long: tuple[World, World]) -> None:
    world = short_and_long[1]
    nxt = next(d for d in world.days if d > NEW_YEARS_EVE)
    changed_total = held_total = 0
    for a in world.accounts:
        before, after = world.positions_as_of(a.id, NEW_YEARS_EVE), world.positions_as_of(a.id, nxt)
        traded: dict[int, float] = {}
        for e in world.executions_for(a.id):
            if e.trade_date == nxt and world.contracts[e.conid].asset_class != "CASH":
                traded[e.conid] = traded.get(e.conid, 0.0) + e.signed_quantity
        changed = {c for c in set(before) | set(after) if before.get(c) != after.get(c)}
        assert changed <= set(traded), a.id
        for conid, qty in traded.items():
            assert abs(after.get(conid, 0.0) - before.get(conid, 0.0) - qty) < 1e-9, (a.id, conid)
        changed_total += len(changed)
        held_total += len(before)
    assert held_total > 200 and changed_total < held_total // 10  # the bug: 227 of 232 changed


def _positions(http: requests.Session, sim: Simulator, acct: str) -> Any:
    r = http.get(f"{sim.base_url}/portfolio/{acct}/positions/0", params={"waitForSecDef": "true"})
    assert r.status_code == 200
    return r.json()


def _invalidate(http: requests.Session, sim: Simulator, acct: str) -> None:
    assert http.post(f"{sim.base_url}/portfolio/{acct}/positions/invalidate").json() == {"message": "success"}


def test_the_clock_crosses_new_year_and_back(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(today=NEW_YEARS_EVE)
    open_brokerage(http, sim)
    accounts = [a.id for a in sim.world.accounts]
    before = {acct: _positions(http, sim, acct) for acct in accounts}
    ledgers = {acct: http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json() for acct in accounts}
    first_world = sim.world
    sim.set_today(datetime.date(2027, 1, 4))
    assert sim.world is first_world  # within the margin: no rebuild
    # positions answer from the session's cache until invalidated (reference §6 "Stale positions")
    assert _positions(http, sim, "U7000011") == before["U7000011"]
    _invalidate(http, sim, "U7000011")
    assert _positions(http, sim, "U7000011") != before["U7000011"]
    sim.set_today(datetime.date(2027, 6, 30))  # past the margin: a longer world replaces it
    assert sim.world is not first_world and sim.world.through > datetime.date(2027, 6, 30)
    _invalidate(http, sim, "U7000011")
    assert _positions(http, sim, "U7000011")
    sim.set_today(NEW_YEARS_EVE)
    for acct in accounts:
        _invalidate(http, sim, acct)
        assert _positions(http, sim, acct) == before[acct], acct
        assert http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json() == ledgers[acct], acct


def test_requests_during_rebuilds_answer_for_one_date(make_sim: Callable[..., Simulator],
                                                      http: requests.Session) -> None:
    """Every answer read while the clock moves (and the world is rebuilt) is the answer of one date."""
    sim = make_sim(today=NEW_YEARS_EVE)
    open_brokerage(http, sim)
    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def reader() -> None:
        with requests.Session() as s:
            while not stop.is_set():
                answers.append(s.get(f"{sim.base_url}/portfolio/U7000011/ledger").json()["BASE"])

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for d in (datetime.date(2027, 1, 20), datetime.date(2027, 3, 1), datetime.date(2027, 3, 2),
                  datetime.date(2027, 4, 15)):
            sim.set_today(d)
    finally:
        stop.set()
        thread.join()
    views = Views(sim.world)  # prefix-stable: the longest world answers for every earlier date
    dates = set()
    for body in answers:
        d = datetime.datetime.fromtimestamp(body["timestamp"], tz=UTC).date()
        dates.add(d)
        assert body == views.valuation("U7000011", d).ledger["BASE"], d
    assert len(answers) > 5 and len(dates) >= 2


def test_a_request_keeps_the_world_and_date_it_started_with(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(today=NEW_YEARS_EVE)
    in_flight = sim.api.pinned()  # what Api.handle answers one request from
    first_world = sim.world
    sim.set_today(datetime.date(2027, 6, 30))
    assert in_flight.world is first_world and in_flight.today == NEW_YEARS_EVE
    assert sim.api.world is not first_world and sim.api.today == datetime.date(2027, 6, 30)


def test_a_clock_before_the_world_is_refused(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    too_early = WORLD_START - datetime.timedelta(days=1)
    with pytest.raises(ValueError, match=str(WORLD_START)):
        Simulator(SimulatorConfig(today=too_early))
    with pytest.raises(ValueError, match=str(WORLD_START)):
        World(7, too_early)
    sim = make_sim(today=WORLD_START)
    assert sim.world.days[0] == WORLD_START
    with pytest.raises(ValueError, match=str(WORLD_START)):
        sim.set_today(too_early)
    with pytest.raises(ValueError, match=str(WORLD_LAST)):  # contracts would start expiring (catalog.py)
        sim.set_today(WORLD_LAST + datetime.timedelta(days=1))
    assert sim.clock.today == WORLD_START
    r = http.post(sim.root_url + "/sim/clock", json={"today": "2023-06-30"})
    assert r.status_code == 400 and str(WORLD_START) in r.json()["error"]
    open_brokerage(http, sim)
    ledger = http.get(f"{sim.base_url}/portfolio/U7000012/ledger").json()
    assert ledger["BASE"]["netliquidationvalue"] == 1_500_000.0  # funded on the first day, nothing traded yet
    summary = http.get(f"{sim.base_url}/portfolio/U7000012/summary").json()  # its previous day is before the world
    assert summary["previousdayequitywithloanvalue"]["amount"] == 0.0
