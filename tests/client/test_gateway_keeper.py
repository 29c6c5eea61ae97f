"""The gateway's health, decided as a careful gateway keeper decides it (reference §1.2, ibeam's table).

Each row of the reference's table of `/tickle` answers, and each `auth/status` state, has one outcome:
the run goes on, IBKR is waited out, or one line says a person must act. `/iserver/reauthenticate` is
deprecated at IBKR (§1.2 "Session endpoints": use `ssodh/init`), and `/logout` would end the user's
own login: neither is ever sent.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from ibkr_pipelines.errors import (
    BrokerageSessionTaken,
    GatewayNotLoggedIn,
    GatewayUnreachable,
    IbkrError,
    NoBridge,
    TransientError,
)
from tests.client.test_http_client import HEALTHY, TICKLE, make_client

def _refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the gateway's port."""
    error = requests.ConnectionError("Connection refused")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


NEVER_SENT = ("POST /iserver/reauthenticate", "POST /logout", "GET /logout")


@pytest.mark.parametrize(
    "tickle, outcome",
    [
        ([(200, TICKLE)], None),  # a running gateway with a session
        ([(200, {"error": "no session"})], GatewayNotLoggedIn),  # no session: a person logs in
        ([(401, {"error": "not authenticated"})], GatewayNotLoggedIn),  # running, not authenticated
        ([(500, b"Internal Server Error"), (200, TICKLE)], None),  # an IBKR restart: waited out
        ([(503, b"Service Unavailable"), (503, b"Service Unavailable"), (200, TICKLE)], None),  # not ready yet
        ([(503, b"Service Unavailable")], TransientError),  # never ready: one line, in bounded time
        ([(200, _refused())], GatewayUnreachable),  # connection refused: the gateway is not running
    ],
    ids=["session", "no-session", "401", "500-restart", "503-then-ready", "503-for-good", "refused"],
)
def test_the_read_only_session_follows_the_tickle_table(tickle: list[Any], outcome: type[IbkrError] | None) -> None:
    client, adapter = make_client({"POST /tickle": tickle})
    if outcome is None:
        client.start()
        client.close()
    else:
        with pytest.raises(outcome) as raised:
            client.start()
        assert "\n" not in str(raised.value)
        if outcome is GatewayNotLoggedIn:
            assert "log in" in str(raised.value)
    assert not [c for c in adapter.calls if c in NEVER_SENT]
    assert "POST /iserver/auth/ssodh/init" not in adapter.calls  # the read-only tier never touches the brokerage one


NOT_CONNECTED = {**HEALTHY, "connected": False}
NOT_AUTHENTICATED = {**HEALTHY, "authenticated": False}
COMPETING = {**HEALTHY, "competing": True}


@pytest.mark.parametrize(
    "statuses, outcome, ssodh_init",
    [
        ([HEALTHY], None, 0),  # authenticated, connected, not competing: nothing to do
        ([NOT_AUTHENTICATED, HEALTHY], None, 1),  # ssodh/init (not the deprecated reauthenticate)
        ([NOT_CONNECTED, HEALTHY], None, 1),
        ([COMPETING], BrokerageSessionTaken, 0),  # TWS or the phone holds it: never taken silently
        # opened, but gone by the polls (idled out while they waited on a penalty box): opened once more
        ([NOT_AUTHENTICATED] * 4 + [HEALTHY], None, 2),
        ([NOT_AUTHENTICATED, NOT_AUTHENTICATED], NoBridge, 2),  # two rounds of init and 3 polls, then one line
    ],
    ids=["healthy", "not-authenticated", "not-connected", "competing", "gone-by-the-polls", "never-comes-up"],
)
def test_the_brokerage_session_follows_auth_status(statuses: list[dict[str, Any]], outcome: type[IbkrError] | None,
                                                   ssodh_init: int) -> None:
    client, adapter = make_client({
        "POST /iserver/auth/status": [(200, s) for s in statuses],
        "POST /iserver/auth/ssodh/init": [(200, NOT_AUTHENTICATED)],
        "GET /iserver/accounts": [(200, {"accounts": ["U1"]})],
    })
    if outcome is None:
        assert client.get("/iserver/accounts") == {"accounts": ["U1"]}
    else:
        with pytest.raises(outcome) as raised:
            client.get("/iserver/accounts")
        assert "\n" not in str(raised.value)
    assert adapter.calls.count("POST /iserver/auth/ssodh/init") == ssodh_init
    assert adapter.bodies.get("POST /iserver/auth/ssodh/init", []) == [{"publish": True, "compete": False}] * ssodh_init
    assert not [c for c in adapter.calls if c in NEVER_SENT]


def test_a_401_on_auth_status_means_a_person_must_log_in_again() -> None:
    client, adapter = make_client({"POST /iserver/auth/status": [(401, {"error": "not authenticated"})]})
    with pytest.raises(GatewayNotLoggedIn) as raised:
        client.get("/iserver/accounts")
    assert "log in" in str(raised.value) and "\n" not in str(raised.value)
    assert not [c for c in adapter.calls if c in NEVER_SENT]
