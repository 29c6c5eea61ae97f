"""How the client reads IBKR's answers: errors in 200s, 204s, retries, recovery, penalties."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import replace
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import MemoryPacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.errors import ApiErrorBody, GatewayNotLoggedIn, TransientError

HEALTHY = {"authenticated": True, "connected": True, "competing": False, "established": True}
TICKLE = {"session": "0123abcd", "ssoExpires": 460311, "collission": False, "iserver": {"authStatus": HEALTHY}}


class StubAdapter(BaseAdapter):
    """Answers requests from a script: ``{"METHOD /path": deque([(status, body, headers), ...])}``."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        super().__init__()
        self.script = {k: deque(v) for k, v in script.items()}
        self.calls: list[str] = []
        self.bodies: dict[str, list[Any]] = {}

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # noqa: D102
        path = request.path_url.split("?")[0].removeprefix("/v1/api")
        key = f"{request.method} {path}"
        self.calls.append(key)
        if request.body:
            self.bodies.setdefault(key, []).append(json.loads(request.body))
        queue = self.script.get(key)
        if not queue:
            status, body, headers = 404, {"error": f"unscripted {key}"}, {}
        else:
            entry = queue.popleft() if len(queue) > 1 else queue[0]
            status, body, headers = (*entry, {})[:3] if len(entry) == 2 else entry
        if isinstance(body, Exception):
            raise body
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers.update(headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:  # noqa: D102
        pass


def make_client(
    script: dict[str, list[Any]], *, penalty: float = 0.2, penalty_scope: str = "scope"
) -> tuple[IbkrClient, StubAdapter]:
    script.setdefault("POST /tickle", [(200, TICKLE)])
    script.setdefault("POST /iserver/auth/status", [(200, HEALTHY)])
    # The 1 per 5 s of the account listings and pnl/partitioned would make a test that lists twice, reads
    # 7 pages or retries once wait for nothing: these tests are about answers, not pacing.
    limits = default_limits("oauth1", penalty_seconds=penalty).with_overrides(
        "portfolio_accounts=1/0.01,portfolio_subaccounts=1/0.01,pnl_partitioned=1/0.01")
    limits = replace(limits, penalty_scope=penalty_scope)
    client = IbkrClient(
        "http://stub/v1/api",
        auth=GatewayAuth(poll_seconds=0.01),
        pacer=Pacer(limits, MemoryPacingStore()),
        retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, deadline_seconds=5, reset_window_seconds=5),
        seed=1,
    )
    adapter = StubAdapter(script)
    client._http.mount("http://stub/", adapter)
    return client, adapter


def test_200_with_an_error_body_is_an_error() -> None:
    client, _ = make_client({"GET /iserver/account/pnl/partitioned": [(200, {"error": "Order rejected"})]})
    with pytest.raises(ApiErrorBody, match="Order rejected"):
        client.get("/iserver/account/pnl/partitioned")


def test_204_is_no_data_not_an_error() -> None:
    client, _ = make_client({"GET /trsrv/secdef": [(204, b"")]})
    assert client.get("/trsrv/secdef", {"conids": "1"}) is None


def test_5xx_and_truncated_bodies_are_retried_then_succeed() -> None:
    client, adapter = make_client(
        {"GET /trsrv/secdef": [(502, {"error": "bad gateway"}), (200, b'{"secdef": [{"con'), (200, {"secdef": []})]}
    )
    assert client.get("/trsrv/secdef") == {"secdef": []}
    assert adapter.calls.count("GET /trsrv/secdef") == 3
    assert client.stats.as_dict()["totals"]["retries"] == 2


def test_timeouts_and_resets_are_retried() -> None:
    client, _ = make_client(
        {
            "GET /trsrv/secdef": [
                (200, requests.Timeout("read timed out")),
                (200, requests.ConnectionError("connection reset")),
                (200, {"secdef": []}),
            ]
        }
    )
    assert client.get("/trsrv/secdef") == {"secdef": []}


def test_persistent_failure_gives_up_with_a_typed_error() -> None:
    client, _ = make_client({"GET /trsrv/secdef": [(503, {"error": "down"})]})
    with pytest.raises(TransientError, match="gave up"):
        client.get("/trsrv/secdef")


def test_no_bridge_runs_ssodh_init_and_retries_once() -> None:
    client, adapter = make_client(
        {
            "GET /iserver/accounts": [(400, {"error": "Bad Request: no bridge", "statusCode": 400}), (200, {"accounts": []})],
            "POST /iserver/auth/status": [(200, HEALTHY), (200, {**HEALTHY, "authenticated": False}), (200, HEALTHY)],
            "POST /iserver/auth/ssodh/init": [(200, HEALTHY)],
        }
    )
    assert client.get("/iserver/accounts") == {"accounts": []}
    assert "POST /iserver/auth/ssodh/init" in adapter.calls
    assert client.stats.session_recoveries == 1


def test_logged_out_gateway_says_to_log_in() -> None:
    client, adapter = make_client({"POST /tickle": [(401, {"error": "not authenticated"})]})
    with pytest.raises(GatewayNotLoggedIn, match="log in"):
        client.get("/portfolio/accounts")
    assert "POST /iserver/auth/ssodh/init" not in adapter.calls


def test_portfolio_calls_are_primed_with_the_account_list() -> None:
    client, adapter = make_client(
        {"GET /portfolio/accounts": [(200, [{"id": "U1"}])], "GET /portfolio/U1/ledger": [(200, {"BASE": {}})]}
    )
    client.get("/portfolio/U1/ledger")
    client.get("/portfolio/U1/ledger")
    assert adapter.calls.count("GET /portfolio/accounts") == 1
    assert adapter.calls.index("GET /portfolio/accounts") < adapter.calls.index("GET /portfolio/U1/ledger")


def test_429_boxes_the_scope_then_the_request_goes_through() -> None:
    client, adapter = make_client(
        {"GET /portfolio/accounts": [(429, {"error": "Too many requests"}, {"Retry-After": "0.3"}), (200, [])]}
    )
    assert client.get("/portfolio/accounts") == []
    totals = client.stats.as_dict()
    assert totals["totals"]["throttled"] == 1
    assert totals["penalties"][0]["scopes"] == ["portfolio_accounts"]
    assert totals["penalties"][0]["seconds"] == pytest.approx(0.3)


def test_with_ip_penalties_a_429_boxes_everything() -> None:
    client, _ = make_client(
        {"GET /portfolio/accounts": [(429, {"error": "Too many requests"}, {"Retry-After": "0.2"}), (200, [])]},
        penalty_scope="ip",
    )
    assert client.get("/portfolio/accounts") == []
    assert client.stats.as_dict()["penalties"][0]["scopes"] == ["global"]


def test_response_hook_sees_bodies_for_the_raw_archive() -> None:
    client, _ = make_client({"GET /trsrv/secdef": [(200, {"secdef": []})]})
    seen: list[tuple[str, str, int, bytes]] = []
    client.add_response_hook(lambda m, p, params, body, status, content: seen.append((m, p, status, content)))
    client.get("/trsrv/secdef")
    assert seen == [("GET", "/trsrv/secdef", 200, b'{"secdef": []}')]
