"""Exact enforcement of the pacing limits, penalty boxes, Retry-After and counters."""

from __future__ import annotations

import threading
import time
from typing import Callable

import requests

from ibkr_pipelines.simulator import Simulator


def _strict(make_sim: Callable[..., Simulator], **kw: object) -> Simulator:
    kw.setdefault("limits_spec", None)  # IBKR's own limits, not the lenient test default
    return make_sim(**kw)


def test_global_burst_boxes_the_scope(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _strict(make_sim)
    statuses = [http.get(sim.base_url + "/iserver/auth/status").status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    r = http.get(sim.base_url + "/portfolio/accounts")
    assert r.status_code == 429 and r.json() == {"error": "Too many requests", "statusCode": 429}
    assert "Retry-After" not in r.headers
    st = sim.stats()
    assert st["total_requests"] == 12 and st["total_throttled"] == 2
    assert st["scopes"]["global"]["max_in_window"] == 12 and st["scopes"]["global"]["throttled"] == 2
    assert [p["scope"] for p in st["penalties"]] == ["global"]
    pen = st["penalties"][0]
    assert abs(pen["ends"] - pen["started"] - 600.0) < 1e-6
    ep = st["endpoints"]["GET /iserver/auth/status"]
    assert ep == {"requests": 11, "throttled": 1, "statuses": {"200": 10, "429": 1}}
    assert len(st["log"]) == 12 and st["log"][-1][1:] == ["GET", "GET /portfolio/accounts", 429]
    # /sim/* is neither paced nor counted
    assert http.get(sim.root_url + "/sim/stats").json()["total_requests"] == 12


def test_one_per_five_seconds_scope_only(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _strict(make_sim, send_retry_after=True)
    b = sim.base_url
    assert http.get(b + "/portfolio/accounts").status_code == 200
    r = http.get(b + "/portfolio/accounts")
    assert r.status_code == 429 and r.headers["Retry-After"] == "600"
    assert http.get(b + "/portfolio/U7000099/meta").status_code == 200  # other scopes unaffected
    r = http.get(b + "/portfolio/accounts")
    assert r.status_code == 429 and 598 <= int(r.headers["Retry-After"]) <= 600
    scopes = sim.stats()["scopes"]
    assert scopes["portfolio_accounts"]["requests"] == 3 and scopes["portfolio_accounts"]["throttled"] == 2


def test_ip_penalty_boxes_everything(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _strict(make_sim, penalty_scope="ip")
    b = sim.base_url
    assert http.get(b + "/tickle").status_code == 200
    assert http.get(b + "/tickle").status_code == 429
    assert http.get(b + "/iserver/auth/status").status_code == 429
    assert sim.stats()["penalties"][0]["scope"] == "ip"


def test_penalty_duration_honoured(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = _strict(make_sim, penalty_seconds=0.5)
    b = sim.base_url
    t0 = time.monotonic()
    assert http.get(b + "/tickle").status_code == 200
    assert http.get(b + "/tickle").status_code == 429  # 2 in 1 s: violation, boxed until +0.5 s
    time.sleep(max(0.0, t0 + 0.3 - time.monotonic()))
    assert http.get(b + "/tickle").status_code == 429  # still boxed (and this arrival counts)
    time.sleep(max(0.0, t0 + 1.45 - time.monotonic()))
    assert http.get(b + "/tickle").status_code == 200  # box over and the 1 s window is clear


def test_custom_limits_and_forced_penalty(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(penalty_seconds=1.0, limits_spec="global=3/1")
    b = sim.base_url
    assert [http.get(b + "/iserver/auth/status").status_code for _ in range(4)] == [200, 200, 200, 429]
    time.sleep(1.1)
    sim.reset_stats()
    sim.force_penalty("tickle", 0.4)
    assert http.get(b + "/tickle").status_code == 429
    assert http.get(b + "/iserver/auth/status").status_code == 200
    time.sleep(1.05)  # the box (0.4 s) and the tickle window (1 s) are both over
    assert http.get(b + "/tickle").status_code == 200
    assert sim.stats()["penalties"][0]["scope"] == "tickle"


def test_history_concurrency_with_latency(make_sim: Callable[..., Simulator]) -> None:
    sim = _strict(make_sim, latency={"history": 0.6})
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        with requests.Session() as s:
            barrier.wait()
            r = s.get(sim.base_url + "/iserver/marketdata/history", params={"conid": 1, "bar": "1d"})
            with lock:
                results.append(r.status_code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(429) == 1 and len(results) == 6
    hist = sim.stats()["scopes"]["history"]
    assert hist["max_concurrency"] == 6 and hist["throttled"] == 1 and hist["in_flight"] == 0


def test_the_flex_tokens_windows_come_from_the_simulators_own_limits_text() -> None:
    from ibkr_pipelines.simulator.config import SimulatorConfig

    # IBKR's (reference §4.1, §5.2) unless the simulator's own setting names flex_token
    assert SimulatorConfig(limits_spec="global=50/1").effective_flex().windows == ((1, 1.0), (10, 60.0))
    fast = SimulatorConfig(limits_spec="global=50/1,flex_token=20/1+100/60")
    assert fast.effective_flex().windows == ((20, 1.0), (100, 60.0))
    assert "flex_token" not in fast.effective_limits().scopes  # a Flex setting, not a Web API scope
    bad = SimulatorConfig(limits_spec="flex_token=many/1")
    try:
        bad.effective_limits()
    except ValueError as error:
        assert str(error) == "simulator limits: cannot read 'many/1' for scope 'flex_token'"
    else:
        raise AssertionError("a flex_token window it cannot read was accepted")
