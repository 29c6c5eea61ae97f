"""Two session tiers: read-only for /portfolio, /pa and /trsrv; the brokerage one only for /iserver, never
taken from TWS or the mobile app unless allowed; and the call-order listings IBKR wants first."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_pipelines.errors import AccountNotVisible, ApiErrorBody, BrokerageSessionTaken, GatewayNotLoggedIn
from tests.client.test_http_client import HEALTHY, make_client

COMPETING = {**HEALTHY, "authenticated": True, "competing": True}


def _accounts(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "accountId": i} for i in ids]


def test_portfolio_reads_never_touch_the_brokerage_session() -> None:
    client, adapter = make_client(
        {
            "GET /portfolio/accounts": [(200, _accounts("U1"))],
            "GET /portfolio/U1/ledger": [(200, {"BASE": {}})],
            "GET /trsrv/secdef": [(200, {"secdef": []})],
        }
    )
    client.start()
    client.get("/portfolio/U1/ledger")
    client.get("/trsrv/secdef", {"conids": "1"})
    assert not [c for c in adapter.calls if c.startswith("POST /iserver/")]


def test_a_competing_session_is_not_taken_by_default() -> None:
    client, adapter = make_client(
        {"POST /iserver/auth/status": [(200, COMPETING)], "GET /iserver/accounts": [(200, {"accounts": []})]}
    )
    with pytest.raises(BrokerageSessionTaken) as caught:
        client.get("/iserver/accounts")
    assert "IBKR_COMPETE=true" in str(caught.value) and "\n" not in str(caught.value)
    assert "POST /iserver/auth/ssodh/init" not in adapter.calls
    assert not caught.value.retryable


def test_compete_takes_the_session_only_when_allowed() -> None:
    client, adapter = make_client(
        {
            "POST /iserver/auth/status": [(200, COMPETING), (200, HEALTHY)],
            "POST /iserver/auth/ssodh/init": [(200, HEALTHY)],
            "GET /iserver/accounts": [(200, {"accounts": ["U1"]})],
        }
    )
    client.auth.compete = True
    assert client.get("/iserver/accounts") == {"accounts": ["U1"]}
    assert adapter.bodies["POST /iserver/auth/ssodh/init"] == [{"publish": True, "compete": True}]


def test_a_missing_brokerage_session_is_opened_without_competing() -> None:
    client, adapter = make_client(
        {
            "POST /iserver/auth/status": [(200, {**HEALTHY, "authenticated": False}), (200, HEALTHY)],
            "POST /iserver/auth/ssodh/init": [(200, HEALTHY)],
            "GET /iserver/accounts": [(200, {"accounts": ["U1"]})],
        }
    )
    client.get("/iserver/accounts")
    assert adapter.bodies["POST /iserver/auth/ssodh/init"] == [{"publish": True, "compete": False}]


def test_no_session_at_the_gateway_asks_for_a_login() -> None:
    client, _ = make_client({"POST /tickle": [(200, {"error": "no session"})]})
    with pytest.raises(GatewayNotLoggedIn, match="holds no login"):
        client.start()


def test_a_sub_account_is_primed_with_the_sub_account_listing() -> None:
    client, adapter = make_client(
        {
            "GET /portfolio/accounts": [(200, _accounts("F1"))],
            "GET /portfolio/subaccounts": [(200, _accounts("F1", "U2", "U3"))],
            "GET /portfolio/U3/ledger": [(200, {"BASE": {}})],
        }
    )
    client.get("/portfolio/U3/ledger")
    client.get("/portfolio/U3/ledger")
    assert adapter.calls.count("GET /portfolio/subaccounts") == 1
    assert adapter.calls.index("GET /portfolio/subaccounts") < adapter.calls.index("GET /portfolio/U3/ledger")


def test_past_100_sub_accounts_the_pages_are_read_until_the_account_is_listed() -> None:
    first = _accounts("F1", *(f"U{i}" for i in range(1, 100)))
    pages = [(200, {"metadata": {"total": 150, "pageSize": 20, "pageNum": n},
                    "subaccounts": _accounts(*(f"U{i}" for i in range(20 * n, 20 * n + 20)))}) for n in range(8)]
    client, adapter = make_client(
        {
            "GET /portfolio/accounts": [(200, _accounts("F1"))],
            "GET /portfolio/subaccounts": [(200, first)],
            "GET /portfolio/subaccounts2": pages,
            "GET /portfolio/U130/ledger": [(200, {"BASE": {}})],
        }
    )
    client.get("/portfolio/U130/ledger")
    assert adapter.calls.count("GET /portfolio/subaccounts2") == 7, "pages 0..6 (U130 is on page 6), not more"


def test_a_401_with_a_live_session_lists_again_and_retries_once() -> None:
    client, adapter = make_client(
        {
            "GET /portfolio/accounts": [(200, _accounts("U1"))],
            "GET /portfolio/U1/ledger": [(401, b""), (200, {"BASE": {}})],
        }
    )
    assert client.get("/portfolio/U1/ledger") == {"BASE": {}}
    assert adapter.calls.count("GET /portfolio/accounts") == 2, "the session may be new: list again"


def test_an_account_refused_after_listing_is_named() -> None:
    client, _ = make_client(
        {
            "GET /portfolio/accounts": [(200, _accounts("U1"))],
            "GET /portfolio/subaccounts": [(200, _accounts("U1"))],  # a non-FA login lists itself (recording)
            "GET /portfolio/U9/ledger": [(401, b"")],
        }
    )
    with pytest.raises(AccountNotVisible, match="refused account U9 .401. although the session is alive"):
        client.get("/portfolio/U9/ledger")


@pytest.mark.parametrize("status", [400, 500])
def test_a_call_order_refusal_lists_first_and_retries_once(status: int) -> None:
    client, adapter = make_client(
        {
            "GET /iserver/accounts": [(200, {"accounts": ["U1"]})],
            "GET /iserver/account/pnl/partitioned": [(status, {"error": "Please query /accounts first"}), (200, {})],
        }
    )
    assert client.get("/iserver/account/pnl/partitioned") == {}
    assert adapter.calls.count("GET /iserver/accounts") == 1


def test_a_call_order_refusal_that_persists_is_one_readable_error() -> None:
    client, _ = make_client(
        {
            "GET /iserver/accounts": [(200, {"accounts": ["U1"]})],
            "GET /iserver/account/pnl/partitioned": [(500, {"error": "Please query /accounts first"})],
        }
    )
    with pytest.raises(ApiErrorBody, match=r"still asks for a listing first \(Please query /accounts first\)"):
        client.get("/iserver/account/pnl/partitioned")
