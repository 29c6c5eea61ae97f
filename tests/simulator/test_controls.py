"""The /sim/* control surface, the TLS mode and clean shutdown."""

from __future__ import annotations

import datetime
import os
import threading
from pathlib import Path
from typing import Callable

import requests

from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.simulator.server import BUILD_MARGIN
from ibkr_pipelines.simulator.world import WORLD_START

from .conftest import TODAY, open_brokerage

REPO = Path(__file__).resolve().parents[2]


def test_http_controls(sim: Simulator, http: requests.Session) -> None:
    root = sim.root_url
    open_brokerage(http, sim)
    assert http.get(root + "/sim/stats").json()["total_requests"] == 3
    assert http.post(root + "/sim/reset-stats").json() == {"ok": True}
    assert http.get(root + "/sim/stats").json()["total_requests"] == 0
    assert http.post(root + "/sim/clock", json={"today": "2026-11-27"}).status_code == 200
    assert sim.clock.today == datetime.date(2026, 11, 27)
    assert http.post(root + "/sim/penalty", json={"scope": "global", "seconds": 0.2}).status_code == 200
    assert http.get(sim.base_url + "/tickle").status_code == 429
    assert http.post(root + "/sim/faults", json={"p_5xx": 1.0, "only_scope": "tickle"}).status_code == 200
    assert sim.faults.config.p_5xx == 1.0
    assert http.post(root + "/sim/faults", json={"nope": 1}).status_code == 400
    assert http.post(root + "/sim/expire-session").status_code == 200
    assert not sim.session.brokerage and sim.session.logged_in  # only the brokerage session idled out
    assert http.post(root + "/sim/compete").status_code == 200 and sim.session.competing
    assert http.post(root + "/sim/expire-login").status_code == 200 and not sim.session.logged_in
    assert http.get(sim.base_url + "/portfolio/accounts").status_code in (401, 429)
    assert http.post(root + "/sim/login").status_code == 200 and sim.session.logged_in
    assert http.post(root + "/sim/logout").status_code == 200 and not sim.session.logged_in
    assert http.post(root + "/sim/login").status_code == 200 and sim.session.logged_in
    assert http.post(root + "/sim/reset-window", json={"seconds": 5}).status_code == 200
    assert sim.session.in_reset(__import__("time").monotonic())
    assert http.get(root + "/sim/nothing").status_code == 404
    assert http.get(root + "/elsewhere").status_code == 404


def test_tls_mode(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(tls=True)
    assert sim.base_url.startswith("https://127.0.0.1:")
    bundle = sim.ca_bundle_path
    assert bundle and os.path.exists(bundle) and not Path(bundle).resolve().is_relative_to(REPO)
    with requests.Session() as s:
        r = s.get(sim.base_url + "/tickle", verify=bundle)
        assert r.status_code == 200
        assert s.get(sim.base_url.replace("127.0.0.1", "localhost") + "/tickle", verify=bundle).status_code == 200
    directory = os.path.dirname(bundle)
    sim.stop()
    assert not os.path.exists(directory)


def test_stop_leaves_nothing_running() -> None:
    before = {t.ident for t in threading.enumerate()}
    sim = Simulator(SimulatorConfig(today=TODAY)).start()
    with requests.Session() as s:
        assert s.get(sim.base_url + "/tickle").status_code == 200  # a keep-alive connection stays open
    sim.stop()
    sim.stop()  # idempotent
    import time

    time.sleep(0.2)
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []


def test_context_manager_and_today_default() -> None:
    with Simulator(SimulatorConfig(today=TODAY)) as sim:
        assert sim.root_url.startswith("http://127.0.0.1:") and sim.ca_bundle_path is None
        assert sim.clock.today == TODAY
        assert sim.world.start == WORLD_START and sim.world.through == TODAY + BUILD_MARGIN


def test_the_world_does_not_depend_on_the_clock() -> None:
    """Ingesting two dates from two simulators must tell one consistent history."""
    later = TODAY + datetime.timedelta(days=3)
    with Simulator(SimulatorConfig(today=TODAY)) as a, Simulator(SimulatorConfig(today=later)) as b:
        end = a.world.through  # b's world runs three days further; up to a's end the two agree
        assert [e for e in b.world.executions if e.trade_date <= end] == a.world.executions
        assert [ev for ev in b.world.cash_events if ev.date <= end] == a.world.cash_events
        account = a.world.accounts[1].id
        assert a.world.positions_as_of(account, later) == b.world.positions_as_of(account, later)
