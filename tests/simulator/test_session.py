"""Gateway session tiers, idle expiry, nightly reset, call order, cold sparse first reads."""

from __future__ import annotations

import time
from typing import Callable

import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.payloads import SECDEF_FIELDS

from .conftest import open_brokerage

INIT = {"publish": True, "compete": True}


def test_starts_logged_in_without_brokerage(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    t = http.post(b + "/tickle").json()
    assert t["iserver"]["authStatus"]["authenticated"] is False and t["hmds"] == {"error": "no bridge"}
    assert {"session", "ssoExpires", "collission", "userId"} <= set(t)
    assert http.get(b + "/portfolio/accounts").status_code == 200
    r = http.get(b + "/iserver/accounts")
    assert r.status_code == 400 and r.json() == {"error": "Bad Request: no bridge", "statusCode": 400}
    assert http.get(b + "/iserver/auth/status").json()["authenticated"] is False
    assert http.post(b + "/iserver/auth/ssodh/init", json={"publish": False, "compete": True}).status_code == 500
    st = http.post(b + "/iserver/auth/ssodh/init", json=INIT).json()
    assert st["authenticated"] and st["connected"] and not st["competing"]
    assert http.get(b + "/iserver/accounts").status_code == 200
    assert http.post(b + "/iserver/auth/status").json()["established"] is True
    assert http.post(b + "/iserver/reauthenticate").json() == {"message": "triggered"}
    v = http.get(b + "/sso/validate").json()
    assert {"USER_ID", "USER_NAME", "RESULT", "IS_MASTER", "features", "region"} <= set(v)


def test_logged_out_then_login(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(logged_in=False)
    b = sim.base_url
    for path in ("/tickle", "/iserver/auth/status", "/portfolio/accounts"):
        r = http.get(b + path)
        assert r.status_code == 401 and r.json() == {"error": "not authenticated", "statusCode": 401}
    assert http.post(b + "/iserver/auth/ssodh/init", json=INIT).status_code == 401
    sim.login()
    assert http.get(b + "/portfolio/accounts").status_code == 200
    assert http.post(b + "/logout").json() == {"status": True}
    assert http.get(b + "/tickle").status_code == 401
    assert http.post(sim.root_url + "/sim/login").status_code == 200
    assert http.get(b + "/tickle").status_code == 200


def test_idle_expiry_and_tickle_keeps_alive(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(idle_timeout_seconds=0.4)
    b = sim.base_url
    open_brokerage(http, sim)
    for _ in range(3):
        time.sleep(0.2)
        assert http.get(b + "/tickle").status_code == 200
    time.sleep(0.55)
    assert http.get(b + "/tickle").status_code == 401
    assert http.get(b + "/portfolio/accounts").status_code == 401
    assert http.post(b + "/iserver/auth/ssodh/init", json=INIT).status_code == 200
    assert http.get(b + "/iserver/accounts").status_code == 200
    # a re-created session forgets the call order
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 500


def test_expire_session_control(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    sim.expire_session()
    assert http.get(sim.base_url + "/portfolio/accounts").status_code == 401
    assert http.post(sim.base_url + "/iserver/auth/ssodh/init", json=INIT).status_code == 200
    assert http.get(sim.base_url + "/portfolio/accounts").status_code == 200


def test_reset_window(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    open_brokerage(http, sim)
    sim.start_reset_window(0.3)
    assert http.get(b + "/iserver/accounts").status_code == 503
    assert http.get(b + "/iserver/auth/status").status_code == 503
    assert http.get(b + "/portfolio/U7000011/meta").status_code == 200
    time.sleep(0.35)
    r = http.get(b + "/iserver/accounts")
    assert r.status_code == 400 and r.json()["error"] == "Bad Request: no bridge"
    assert http.post(b + "/iserver/auth/ssodh/init", json=INIT).status_code == 200
    assert http.get(b + "/iserver/accounts").status_code == 200


def test_call_order_and_unknown_account(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    r = http.get(b + "/portfolio/U7000011/ledger")
    assert r.status_code == 500 and r.json()["error"] == "Please query /portfolio/accounts first"
    assert http.get(b + "/portfolio/subaccounts").status_code == 200
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 200
    r = http.get(b + "/portfolio/U9999999/summary")
    assert r.status_code == 400
    assert r.json() == {"error": "Bad Request: accountId is not valid: U9999999", "statusCode": 400}
    assert http.get(b + "/no/such/endpoint").status_code == 404


def test_cold_sparse_first_read_then_full(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    open_brokerage(http, sim)
    cold = http.get(b + "/portfolio/U7000012/positions/0").json()
    assert cold and all(not (set(SECDEF_FIELDS) & set(r)) for r in cold)
    assert all("conid" in r and "mktValue" in r for r in cold)
    warm = http.get(b + "/portfolio/U7000012/positions/0").json()
    assert all(r["name"] and r["pageSize"] == 100 and "ticker" in r for r in warm)
    assert [r["conid"] for r in cold] == [r["conid"] for r in warm]
    # a new session reads cold again
    sim.expire_session()
    open_brokerage(http, sim)
    again = http.get(b + "/portfolio/U7000012/positions/0").json()
    assert "name" not in again[0]


def test_position_without_conid_injection(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(inject_position_without_conid=True)
    open_brokerage(http, sim)
    missing = 0
    for a in sim.world.accounts:
        page = 0
        while True:
            rows = http.get(f"{sim.base_url}/portfolio/{a.id}/positions/{page}").json()
            missing += sum(1 for r in rows if "conid" not in r)
            if len(rows) < 100:
                break
            page += 1
    assert missing == 1
