"""Session endpoints: auth status, ssodh/init, tickle, logout, sso/validate, reauthenticate, suppress.

Bodies follow the recordings Session/*.json; the state behind them is session.GatewaySession.
"""

from __future__ import annotations

import re
import time

from ibkr_pipelines.simulator import payloads
from ibkr_pipelines.simulator.api import USER_ID, USER_NAME, Api, Reply, Request, compete_flag, error, route


def _status(api: Api, *, with_fail: bool) -> dict:
    flags = api.session.auth_flags()
    body = payloads.auth_status(authenticated=flags["authenticated"], connected=flags["connected"],
                                competing=flags["competing"], with_fail=with_fail)
    body["established"] = flags["established"]
    return body


@route("GET,POST", r"/iserver/auth/status")
def _auth_status(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Without a brokerage session: 200 with authenticated:false (ibeam #146), not an error.
    return Reply(200, _status(api, with_fail=True))


@route("POST,GET", r"/iserver/auth/ssodh/init")
def _ssodh_init(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Counted by the handler as it arrives (Simulator.stats()["session"]["ssodh_init"]).
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("publish", True) is not True:
        return error(500, "publish must be true")  # reference §1.2: IBKR answers 500; text unverified
    api.session.ssodh_init(compete_flag(body), req.arrival)
    return Reply(200, _status(api, with_fail=False))  # recording Session/POST-ssodh-init.json has no "fail"


@route("GET,POST", r"/tickle")
def _tickle(api: Api, req: Request, m: re.Match[str]) -> Reply:
    s = api.session
    remaining_ms = int(max(0.0, s.idle_timeout - (time.monotonic() - s.last_request)) * 1000)
    return Reply(200, {
        "session": s.session_id, "ssoExpires": remaining_ms, "collission": False, "userId": USER_ID,
        "hmds": {"error": "no bridge"},
        "iserver": {"authStatus": _status(api, with_fail=False)},
    })


@route("POST,GET", r"/logout")
def _logout(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.logout()
    return Reply(200, {"status": True})


@route("GET", r"/sso/validate")
def _sso_validate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, payloads.sso_validate(USER_ID, USER_NAME, True, int(time.time() * 1000)))


@route("POST,GET", r"/iserver/reauthenticate")
def _reauthenticate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"message": "triggered"})  # deprecated at IBKR (reference §1.2); no state change here


@route("POST", r"/iserver/questions/suppress")
def _suppress(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"status": "submitted"})  # recording Session/POST-suppress.json


@route("POST", r"/iserver/questions/suppress/reset")
def _suppress_reset(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"status": "submitted"})  # recording Session/POST-suppress-reset.json
