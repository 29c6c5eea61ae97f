"""Authenticators sign every request at the socket; response hooks see bodies without secrets, never sessions."""

from __future__ import annotations

import ast
import itertools
from dataclasses import replace
from pathlib import Path

import requests
from requests.auth import AuthBase

from ibkr_pipelines.client.am_client import AccountManagementClient
from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.endpoints import CLIENT_PORTAL_ENDPOINTS, Prime, row, sparse_positions_page
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import MemoryPacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.services import CLIENT_PORTAL
from tests.client.loopback import Loopback
from tests.client.test_http_client import HEALTHY, TICKLE, make_client

CLIENT_DIR = Path(__file__).resolve().parents[2] / "ibkr_pipelines" / "client"


class CountingSigner(AuthBase):
    """A test signer: a fresh signature header on every request it is applied to."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Test-Signature"] = f"sig-{next(self._n)}"
        return request


class SigningGatewayAuth(GatewayAuth):
    """The gateway's handshakes, plus a per-request signer (as OAuth 1.0a will have)."""

    def __init__(self) -> None:
        super().__init__(poll_seconds=0.01)
        self._signer = CountingSigner()

    def signer(self) -> AuthBase | None:
        """The test signer."""
        return self._signer


def test_every_request_is_signed_handshakes_retries_and_other_services_included() -> None:
    script = {
        "POST /v1/api/tickle": [(200, TICKLE)],
        "POST /v1/api/iserver/auth/status": [(200, HEALTHY)],
        "GET /v1/api/portfolio/accounts": [(200, [{"id": "U1"}])],
        "GET /v1/api/portfolio/U1/ledger": [(503, {"error": "busy"}), (200, {"BASE": {}})],
        "GET /v1/api/iserver/accounts": [(200, {"accounts": ["U1"]})],
        "GET /gw/api/v1/statements/available": [(200, {"data": {}})],
    }
    with Loopback(script).running() as server:
        auth = SigningGatewayAuth()
        limits = default_limits("oauth1").with_overrides("portfolio_accounts=1/0.01")
        client = IbkrClient(
            server.url + "/v1/api",
            auth=auth,
            pacer=Pacer(limits, MemoryPacingStore()),
            retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02),
            seed=1,
        )
        with client:
            client.get("/portfolio/U1/ledger")
            client.get("/iserver/accounts")
            AccountManagementClient(client.transport, auth=auth, base_url=server.url + "/gw/api/v1").get(
                "/statements/available", {"accountId": "U1"}
            )
    seen = [(s.method, s.path) for s in server.seen]
    assert ("POST", "/v1/api/tickle") in seen and ("POST", "/v1/api/iserver/auth/status") in seen
    assert seen.count(("GET", "/v1/api/portfolio/U1/ledger")) == 2 and ("GET", "/gw/api/v1/statements/available") in seen
    signatures = [s.headers.get("X-Test-Signature") for s in server.seen]
    assert None not in signatures, f"unsigned: {[k for k, v in zip(seen, signatures) if v is None]}"
    assert len(set(signatures)) == len(signatures), "each attempt is signed afresh"


def test_the_gateway_signs_nothing() -> None:
    assert GatewayAuth().signer() is None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_auth_and_the_session_keeper_do_not_import_the_client() -> None:
    for name in ("auth.py", "session_keeper.py", "calls.py", "transport.py"):
        assert "ibkr_pipelines.client.http_client" not in _imports(CLIENT_DIR / name), name


def test_hooks_get_the_request_body_but_never_session_answers() -> None:
    client, _ = make_client(
        {"POST /pa/performance": [(200, {"nav": {}})], "GET /iserver/accounts": [(200, {"accounts": []})]}
    )
    seen: list[tuple[object, ...]] = []
    client.add_response_hook(lambda *args: seen.append(args))
    client.start()  # POST /tickle: a session answer
    client.post("/pa/performance", json={"acctIds": ["U1"], "period": "1D"})
    client.get("/iserver/accounts")  # opens the brokerage tier: POST /iserver/auth/status, a session answer
    assert [(m, p, params, body, status) for m, p, params, body, status, _ in seen] == [
        ("POST", "/pa/performance", None, {"acctIds": ["U1"], "period": "1D"}, 200),
        ("GET", "/iserver/accounts", None, None, 200),
    ]


def test_secret_parameters_of_an_endpoint_never_reach_a_hook() -> None:
    client, adapter = make_client({"POST /trsrv/secdef": [(200, {"secdef": []})]})
    table = CLIENT_PORTAL_ENDPOINTS.with_rows(row(r"/trsrv/secdef", "POST", secret_params=("apiKey",)))
    client.route = replace(client.route, service=replace(CLIENT_PORTAL, endpoints=table))
    seen: list[tuple[object, ...]] = []
    client.add_response_hook(lambda *args: seen.append(args))
    client.post("/trsrv/secdef", json={"conids": [1], "nested": {"apikey": "s3cret"}}, params={"apiKey": "s3cret", "x": 1})
    assert adapter.bodies["POST /trsrv/secdef"] == [{"conids": [1], "nested": {"apikey": "s3cret"}}], "IBKR gets it"
    _, _, params, body, _, _ = seen[0]
    assert params == {"x": 1} and body == {"conids": [1], "nested": {}}


def test_the_session_id_beside_the_accounts_never_reaches_a_hook() -> None:
    answer = {"accounts": ["U1"], "sessionId": "5e55aaab", "serverInfo": {"serverName": "x"}}
    client, _ = make_client({"GET /iserver/accounts": [(200, answer)], "GET /portfolio/accounts": [(200, [])]})
    seen: list[tuple[object, ...]] = []
    client.add_response_hook(lambda *args: seen.append(args))
    assert client.get("/iserver/accounts") == answer  # the caller gets the whole answer
    client.get("/portfolio/accounts")
    content = [c for *_, c in seen]
    assert b"5e55aaab" not in content[0] and b'"accounts":["U1"]' in content[0]
    assert content[1] == b"[]"  # answers without a secret field are handed over byte for byte


def test_history_without_data_is_an_empty_answer() -> None:
    client, _ = make_client({"GET /iserver/marketdata/history": [(400, {"error": "No data."})]})
    assert client.get("/iserver/marketdata/history", {"conid": "8314", "period": "1d", "bar": "1h"}) is None
    assert client.stats.as_dict()["totals"]["errors"] == 0


def test_an_incomplete_page_is_read_again_when_its_row_asks() -> None:
    client, adapter = make_client(
        {
            "GET /portfolio/accounts": [(200, [{"id": "U1"}])],
            "GET /portfolio/U1/positions/0": [(200, [{"conid": 1}]), (200, [{"conid": 1, "ticker": "AAPL"}])],
        }
    )
    eager = row(r"/portfolio/U1/positions/\d+", "GET", prime=Prime.ACCOUNT, incomplete=sparse_positions_page, rereads=2)
    client.route = replace(client.route, service=replace(CLIENT_PORTAL, endpoints=CLIENT_PORTAL_ENDPOINTS.with_rows(eager)))
    assert client.get("/portfolio/U1/positions/0") == [{"conid": 1, "ticker": "AAPL"}]
    assert adapter.calls.count("GET /portfolio/U1/positions/0") == 2 and client.stats.cold_read_retries == 1


def test_position_pages_are_not_read_again_by_the_client_today() -> None:
    """The positions extractor re-reads sparse pages itself (keeping each row's fullest answer)."""
    client, adapter = make_client(
        {"GET /portfolio/accounts": [(200, [{"id": "U1"}])], "GET /portfolio/U1/positions/0": [(200, [{"conid": 1}])]}
    )
    assert client.get("/portfolio/U1/positions/0") == [{"conid": 1}]
    assert adapter.calls.count("GET /portfolio/U1/positions/0") == 1
