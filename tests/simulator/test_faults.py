"""Seeded fault injection: each kind appears at about its probability, reproducibly."""

from __future__ import annotations

import json
from typing import Callable

import pytest
import requests

from ibkr_pipelines.simulator import FaultConfig, Simulator

N = 300


def _run(sim: Simulator, http: requests.Session) -> list[tuple[int, bool]]:
    out = []
    for i in range(N):
        r = http.get(sim.base_url + "/trsrv/secdef", params={"conids": str(i % 50)})
        try:
            json.loads(r.content or b"null")
            ok = True
        except ValueError:
            ok = False
        out.append((r.status_code, ok))
    return out


def test_5xx_rate_and_determinism(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    cfg = FaultConfig(seed=3, p_5xx=0.2)
    first = _run(make_sim(faults=cfg), http)
    second = _run(make_sim(faults=cfg), http)
    assert first == second
    n5 = sum(1 for s, _ in first if s >= 500)
    assert 0.12 * N < n5 < 0.28 * N
    assert {s for s, _ in first if s >= 500} <= {500, 502, 503}
    other = _run(make_sim(faults=FaultConfig(seed=4, p_5xx=0.2)), http)
    assert other != first


def test_malformed_and_429(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    res = _run(make_sim(faults=FaultConfig(seed=1, p_malformed=0.25, p_429=0.25)), http)
    bad = sum(1 for s, ok in res if s == 200 and not ok)
    n429 = sum(1 for s, _ in res if s == 429)
    assert 0.15 * N < bad < 0.35 * N
    assert 0.15 * N < n429 < 0.35 * N


def test_fault_429_does_not_box(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(faults=FaultConfig(seed=0, p_429=1.0, only_scope="tickle"), send_retry_after=True)
    r = http.get(sim.base_url + "/tickle")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert http.get(sim.base_url + "/iserver/auth/status").status_code == 200  # only_scope respected
    sim.set_faults(FaultConfig())
    assert http.get(sim.base_url + "/tickle").status_code == 200
    assert sim.stats()["penalties"] == []


def test_drop_session(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    # A dropped session is the brokerage session ending under the request (session.py): /iserver
    # answers no bridge until ssodh/init, the read-only /portfolio session keeps working.
    sim = make_sim(faults=FaultConfig(p_drop_session=1.0))
    r = http.get(sim.base_url + "/iserver/accounts")
    assert r.status_code == 400 and r.json()["error"] == "Bad Request: no bridge"
    assert http.get(sim.base_url + "/portfolio/accounts").status_code == 200
    http.post(sim.root_url + "/sim/faults", json={})
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 400
    assert http.post(sim.base_url + "/iserver/auth/ssodh/init", json={"publish": True}).status_code == 200
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 200


def test_timeout_closes_without_answer(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(faults=FaultConfig(p_timeout=1.0, timeout_seconds=0.3))
    with pytest.raises(requests.ConnectionError):
        http.get(sim.base_url + "/tickle", timeout=5)
    sim.set_faults(FaultConfig())
    assert http.get(sim.base_url + "/tickle").status_code == 200
    st = sim.stats()
    assert st["endpoints"]["GET /tickle"]["statuses"] == {"0": 1, "200": 1}
