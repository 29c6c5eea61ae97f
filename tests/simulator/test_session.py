"""The session model: SSO login held by the gateway, our brokerage session, a competing platform."""

from __future__ import annotations

from typing import Callable

import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.session import GatewaySession

from .conftest import list_accounts, open_brokerage

QUIET = {"publish": True, "compete": False}
TAKE_OVER = {"publish": True, "compete": True}
NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}


def test_a_fresh_gateway_has_its_brokerage_session_up(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    st = http.get(b + "/iserver/auth/status").json()
    assert st["authenticated"] and st["connected"] and st["established"] and not st["competing"]
    t = http.post(b + "/tickle").json()
    assert t["iserver"]["authStatus"]["authenticated"] is True and t["hmds"] == {"error": "no bridge"}
    assert {"session", "ssoExpires", "collission", "userId"} <= set(t)
    assert http.get(b + "/iserver/accounts").status_code == 200
    assert http.post(b + "/iserver/auth/ssodh/init", json={"publish": False, "compete": False}).status_code == 500
    assert http.post(b + "/iserver/reauthenticate").json() == {"message": "triggered"}
    v = http.get(b + "/sso/validate").json()
    assert {"USER_ID", "USER_NAME", "RESULT", "IS_MASTER", "features", "region"} <= set(v)


def test_brokerage_down_at_start_until_ssodh_init(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(brokerage_at_start=False)
    b = sim.base_url
    r = http.get(b + "/iserver/auth/status")
    assert r.status_code == 200 and r.json()["authenticated"] is False  # ibeam #146: 200, not an error
    r = http.get(b + "/iserver/accounts")
    assert r.status_code == 400 and r.json() == NO_BRIDGE
    assert http.get(b + "/portfolio/accounts").status_code == 200  # the read-only session needs no brokerage
    st = http.post(b + "/iserver/auth/ssodh/init", json=QUIET).json()
    assert st["authenticated"] and st["connected"] and not st["competing"] and "fail" not in st
    assert http.get(b + "/iserver/accounts").status_code == 200


def test_idle_timeout_ends_only_the_brokerage_session() -> None:
    s = GatewaySession(True, idle_timeout=360.0, now=0.0)
    assert s.touch(100.0) == "ok" and s.brokerage
    s.note_listed(["U7000011"])
    s.mark_iserver_accounts()
    assert s.touch(100.0 + 359.0) == "ok" and s.brokerage  # any request restarts the idle timer
    assert s.touch(459.0 + 361.0) == "ok"  # the read-only session lives on ...
    assert not s.brokerage and not s.iserver_accounts_queried  # ... the brokerage session does not
    assert s.is_listed("U7000011")  # the read-only session's call-order memory survives
    assert s.auth_flags() == {"authenticated": False, "competing": False, "connected": True, "established": False}
    s.ssodh_init(compete=False, now=900.0)
    assert s.brokerage and s.touch(901.0) == "ok"


def test_an_idled_out_brokerage_session_over_http(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    list_accounts(http, sim)
    assert http.get(b + "/iserver/accounts").status_code == 200
    assert http.post(sim.root_url + "/sim/expire-session").json() == {"ok": True}
    r = http.get(b + "/iserver/auth/status")
    assert r.status_code == 200 and r.json()["authenticated"] is False and r.json()["connected"] is True
    assert http.post(b + "/tickle").json()["iserver"]["authStatus"]["authenticated"] is False
    assert http.get(b + "/iserver/accounts").json() == NO_BRIDGE
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 200  # /portfolio unaffected, still listed
    assert http.post(b + "/iserver/auth/ssodh/init", json=QUIET).json()["authenticated"] is True
    # a new brokerage session: /iserver/accounts is needed again before orders
    assert http.get(b + "/iserver/account/orders").status_code == 500
    assert http.get(b + "/iserver/accounts").status_code == 200
    assert http.get(b + "/iserver/account/orders").status_code == 200


def test_a_lost_login_is_401_everywhere_until_a_new_login(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    open_brokerage(http, sim)
    assert http.post(sim.root_url + "/sim/expire-login").json() == {"ok": True}
    for method, path in (("GET", "/tickle"), ("POST", "/tickle"), ("GET", "/iserver/auth/status"),
                         ("GET", "/portfolio/accounts"), ("GET", "/portfolio/U7000011/ledger")):
        r = http.request(method, b + path)
        assert r.status_code == 401 and r.json() == {"error": "not authenticated", "statusCode": 401}, path
    assert http.post(b + "/iserver/auth/ssodh/init", json=TAKE_OVER).status_code == 401  # no browser-less way back
    assert sim.stats()["session"]["logged_in"] is False
    assert http.post(sim.root_url + "/sim/login").json() == {"ok": True}
    assert http.get(b + "/iserver/auth/status").json()["authenticated"] is True  # a fresh login: brokerage up
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 401  # a new session: list again
    list_accounts(http, sim)
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 200


def test_logged_out_start_and_the_logout_endpoint(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(logged_in=False)
    b = sim.base_url
    for path in ("/tickle", "/iserver/auth/status", "/portfolio/accounts"):
        assert http.get(b + path).status_code == 401
    assert http.post(b + "/iserver/auth/ssodh/init", json=QUIET).status_code == 401
    sim.login()
    assert http.get(b + "/portfolio/accounts").status_code == 200
    assert http.post(b + "/logout").json() == {"status": True}
    assert http.get(b + "/tickle").status_code == 401
    assert http.post(sim.root_url + "/sim/logout").status_code == 200
    assert http.post(sim.root_url + "/sim/login").status_code == 200
    assert http.get(b + "/tickle").status_code == 200


def test_another_platform_holds_the_session(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(competing=True)
    b = sim.base_url
    st = http.get(b + "/iserver/auth/status").json()
    assert (st["authenticated"], st["competing"], st["connected"]) == (True, True, True)  # ibeam #40
    assert http.post(b + "/tickle").json()["iserver"]["authStatus"]["competing"] is True
    r = http.get(b + "/iserver/accounts")
    assert r.status_code == 200 and r.json() == {}  # ibeam #40
    assert http.get(b + "/iserver/account/orders").json() == NO_BRIDGE
    assert http.get(b + "/portfolio/accounts").status_code == 200  # the read-only session is ours
    # compete:false leaves the other platform alone (guess) ...
    assert http.post(b + "/iserver/auth/ssodh/init", json=QUIET).json()["competing"] is True
    assert http.get(b + "/iserver/accounts").json() == {}
    # ... compete:true takes the session
    st = http.post(b + "/iserver/auth/ssodh/init", json=TAKE_OVER).json()
    assert st["competing"] is False and st["authenticated"] is True
    assert http.get(b + "/iserver/accounts").json()["accounts"]
    assert sim.stats()["session"]["ssodh_init"] == {"compete_true": 1, "compete_false": 1}


def test_the_compete_control_takes_the_session_now(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    assert http.get(b + "/iserver/accounts").status_code == 200
    assert http.post(sim.root_url + "/sim/compete").json() == {"ok": True}
    assert http.get(b + "/iserver/auth/status").json()["competing"] is True
    assert http.get(b + "/iserver/accounts").json() == {}
    assert sim.stats()["session"]["competing"] is True and sim.stats()["session"]["brokerage"] is False
    http.post(b + "/iserver/auth/ssodh/init", json=TAKE_OVER)
    assert sim.stats()["session"]["competing"] is False and sim.stats()["session"]["brokerage"] is True


def test_every_ssodh_init_sent_is_counted_by_its_compete_value(sim: Simulator, http: requests.Session) -> None:
    init = sim.base_url + "/iserver/auth/ssodh/init"
    assert sim.stats()["session"]["ssodh_init"] == {"compete_true": 0, "compete_false": 0}
    http.post(init, json={"publish": True})  # no compete: counted as false
    http.post(init, json=QUIET)
    http.post(init, json={"publish": False, "compete": True})  # answered 500, still sent
    http.post(init, json={"publish": True, "compete": "true"})
    sim.logout()
    assert http.post(init, json=TAKE_OVER).status_code == 401  # answered 401, still sent
    assert sim.stats()["session"]["ssodh_init"] == {"compete_true": 3, "compete_false": 2}


def test_reset_window(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    open_brokerage(http, sim)
    sim.start_reset_window(0.3)
    assert http.get(b + "/iserver/accounts").status_code == 503
    assert http.get(b + "/iserver/auth/status").status_code == 503
    assert http.get(b + "/portfolio/U7000011/meta").status_code == 200
    sim.session.reset_until = 0.0  # the window is over (no waiting on the clock)
    r = http.get(b + "/iserver/accounts")
    assert r.status_code == 400 and r.json()["error"] == "Bad Request: no bridge"
    assert http.post(b + "/iserver/auth/ssodh/init", json=QUIET).status_code == 200
    assert http.get(b + "/iserver/accounts").status_code == 200
