"""Account Management through the shared transport: JSON answers, problem+json errors in one line, 208, 429."""

from __future__ import annotations

from typing import Any

import pytest

from ibkr_pipelines.client.am_client import AccountManagementClient
from ibkr_pipelines.client.auth import NoAuth
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import MemoryPacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.transport import Transport
from ibkr_pipelines.errors import NotAuthenticated, ProblemAnswer
from tests.client.loopback import Loopback

ROOT = "/gw/api/v1"
PROBLEM = {"Content-Type": "application/problem+json"}
POLL = f"GET {ROOT}/client-instructions/7008156"
INSTRUCTION = {
    "instructionResult": {
        "clientInstructionId": 7008156,
        "instructionId": 43092595,
        "instructionStatus": "PENDING",
        "instructionType": "INTERNAL_CASH_TRANSFER",
    },
    "instructionSetId": 2650,
    "status": 200,
}


def am_client(server: Loopback) -> AccountManagementClient:
    transport = Transport(
        pacer=Pacer(default_limits("oauth2", penalty_seconds=0.2), MemoryPacingStore()),
        retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, deadline_seconds=5),
        seed=1,
    )
    return AccountManagementClient(transport, auth=NoAuth(), base_url=server.url + ROOT)


def _problem(status: int, title: str, detail: str, **extra: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}, PROBLEM


def test_an_answer_is_parsed_json() -> None:
    with Loopback({POLL: [(200, INSTRUCTION)]}).running() as server:
        assert am_client(server).get("/client-instructions/7008156") == INSTRUCTION
    assert server.seen[0].headers["Accept"] == "application/json"


def test_a_business_error_is_one_line_with_title_detail_and_fields() -> None:
    answer = _problem(
        422, "Unprocessable Entity", "amount must be positive", invalidArguments=[{"field": "amount", "description": "must be > 0"}]
    )
    with Loopback({f"POST {ROOT}/internal-cash-transfers": [answer]}).running() as server:
        with pytest.raises(ProblemAnswer) as caught:
            am_client(server).post("/internal-cash-transfers", json={"instructionType": "INTERNAL_CASH_TRANSFER"})
    message = str(caught.value)
    assert "business error" in message and "Unprocessable Entity - amount must be positive (amount: must be > 0)" in message
    assert "\n" not in message and caught.value.status == 422 and caught.value.detail == "amount must be positive"
    assert not caught.value.retryable and len(server.seen) == 1


def test_an_unknown_instruction_is_a_404_problem() -> None:
    with Loopback({POLL: [_problem(404, "Not Found", "clientInstructionId 7008156 not found")]}).running() as server:
        with pytest.raises(ProblemAnswer, match="unknown to IBKR: Not Found - clientInstructionId 7008156 not found"):
            am_client(server).get("/client-instructions/7008156")


def test_a_403_with_the_error_inside_the_instruction_result() -> None:
    body = {"status": 403, "instructionResult": {"error": {"errorCode": "INSUFFICIENT_FUNDS", "errorMessage": "Not enough cash"}}}
    with Loopback({f"POST {ROOT}/external-cash-transfers": [(403, body)]}).running() as server:
        with pytest.raises(ProblemAnswer, match="INSUFFICIENT_FUNDS - Not enough cash"):
            am_client(server).post("/external-cash-transfers", json={})


def test_208_a_reused_client_instruction_id_is_still_the_instruction() -> None:
    with Loopback({POLL: [(208, INSTRUCTION)]}).running() as server:
        assert am_client(server).get("/client-instructions/7008156") == INSTRUCTION


def test_401_is_a_credentials_problem() -> None:
    with Loopback({POLL: [_problem(401, "Unauthorized", "invalid token")]}).running() as server:
        with pytest.raises(NotAuthenticated, match="Unauthorized - invalid token"):
            am_client(server).get("/client-instructions/7008156")


def test_429_boxes_the_endpoint_scope_then_goes_through() -> None:
    script = {POLL: [(429, {"title": "Too Many Requests"}, {"Retry-After": "0.2"}), (200, INSTRUCTION)]}
    with Loopback(script).running() as server:
        client = am_client(server)
        assert client.get("/client-instructions/7008156") == INSTRUCTION
    penalty = client.transport.stats.as_dict()["penalties"][0]
    assert penalty["scopes"] == ["am:GET /client-instructions/{n}"] and penalty["seconds"] == pytest.approx(0.2)


def test_5xx_is_retried() -> None:
    with Loopback({POLL: [_problem(500, "Internal Server Error", "try later"), (200, INSTRUCTION)]}).running() as server:
        assert am_client(server).get("/client-instructions/7008156") == INSTRUCTION
    assert len(server.seen) == 2


def test_the_embedded_simulator_serves_account_management_beside_its_gateway_login() -> None:
    """A gateway-mode embedded simulator answers /gw/api/v1 to its own OAuth 2.0 login; /v1/api keeps the gateway's."""
    import datetime

    from ibkr_pipelines.config import Settings
    from ibkr_pipelines.connection import open_connection

    with open_connection(Settings(), as_of=datetime.date(2026, 11, 27)) as connection:
        client, simulator = connection.client, connection.simulator
        assert simulator is not None and not simulator.oauth_mode
        accounts = [row["accountId"] for row in client.request("GET", "/portfolio/accounts")]
        available = client.account_management().get("/statements/available", params={"accountId": accounts[-1]})
        assert available["data"]["value"]["daily"]["endDate"] == "20261126"  # statements exist up to yesterday
        assert not simulator.oauth_mode  # still a gateway for /v1/api: no bearer asked of the Client Portal
        assert "BASE" in client.request("GET", f"/portfolio/{accounts[-1]}/ledger")
        assert sum(simulator.stats()["account_management"]["requests"].values()) == 1


def test_a_statement_reaches_the_caller_whole_and_hooks_get_only_its_digest() -> None:
    """§3.3: the document is base64 in data.value; the raw archive keeps its sha256 and size, never the bytes."""
    import base64
    import hashlib
    import json

    document = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4
    encoded = base64.b64encode(document).decode()
    answer = {"data": {"dataType": "byte[]", "encoding": "base64", "value": encoded, "mimeType": "application/pdf",
                       "gzip": False}}
    heard: list[tuple[str, str, bytes]] = []
    with Loopback({f"POST {ROOT}/statements": [(200, answer)]}).running() as server:
        client = am_client(server)
        with client.transport.recording(lambda m, p, _params, _body, _status, content: heard.append((m, p, content))):
            got = client.post("/statements", json={"accountId": "U1", "startDate": "20261120", "endDate": "20261120"})
    assert base64.b64decode(got["data"]["value"]) == document
    [(method, path, content)] = heard
    archived = json.loads(content)
    assert (method, path) == ("POST", "/statements") and encoded.encode() not in content
    assert archived["data"]["value"]["sha256"] == hashlib.sha256(document).hexdigest()
    assert archived["data"]["value"]["bytes"] == len(document) and archived["data"]["mimeType"] == "application/pdf"
