"""Failures that no wait can cure end at once, in one line saying what is wrong and which setting to look at."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import requests
import urllib3

from ibkr_pipelines.client.answers import connection_failure
from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore, MemoryPacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.errors import GatewayUnreachable, IbkrUnavailable, NotJsonAnswer, TransientError
from tests.client.test_http_client import make_client

LISTED = (200, [{"id": "U1"}])

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Client Portal Login</title></head><body>...</body></html>"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_said_within_seconds() -> None:
    client = IbkrClient(
        f"http://127.0.0.1:{_closed_port()}/v1/api",
        auth=GatewayAuth(poll_seconds=0.01),
        pacer=Pacer(default_limits("gateway"), MemoryPacingStore()),
        retry=RetryPolicy(),
        seed=1,
    )
    started = time.monotonic()
    with pytest.raises(GatewayUnreachable) as caught:
        client.start()
    took = time.monotonic() - started
    assert took < 15, f"took {took:.1f} s"
    message = str(caught.value)
    assert "nothing answers at http://127.0.0.1:" in message and "Client Portal Gateway running" in message
    assert "IBKR_BASE_URL" in message and "\n" not in message
    assert not caught.value.retryable


@pytest.mark.parametrize("status", [200, 404])
def test_a_web_page_is_called_a_web_page(status: int) -> None:
    client, _ = make_client(
        {"GET /portfolio/accounts": [(status, LOGIN_PAGE, {"Content-Type": "text/html; charset=utf-8"})]}
    )
    with pytest.raises(NotJsonAnswer) as caught:
        client.get("/portfolio/accounts")
    message = str(caught.value)
    assert "answered a web page ('Client Portal Login') instead of IBKR's JSON" in message
    assert "login page or a wrong IBKR_BASE_URL" in message
    assert not caught.value.retryable


def test_a_web_page_without_a_content_type_is_recognised() -> None:
    client, _ = make_client({"GET /portfolio/accounts": [(200, b"\n  <html><body>hello</body></html>")]})
    with pytest.raises(NotJsonAnswer, match="answered a web page instead"):
        client.get("/portfolio/accounts")


def test_a_redirect_is_not_followed() -> None:
    client, adapter = make_client(
        {"GET /portfolio/accounts": [(302, b"", {"Location": "https://localhost:5000/sso/Login?forwardTo=22"})]}
    )
    with pytest.raises(NotJsonAnswer, match="redirected the request to https://localhost:5000/sso/Login:"):
        client.get("/portfolio/accounts")
    assert adapter.calls.count("GET /portfolio/accounts") == 1


def test_endless_5xx_ends_at_the_outage_budget() -> None:
    client, _ = make_client(
        {"GET /portfolio/accounts": [LISTED], "GET /portfolio/U1/ledger": [(503, {"error": "Service Unavailable"})]}
    )
    client.retry = RetryPolicy(base_seconds=0.01, cap_seconds=0.05, max_attempts=1000, outage_seconds=0.5)
    client.start()
    started = time.monotonic()
    with pytest.raises(IbkrUnavailable) as caught:
        client.get("/portfolio/U1/ledger")
    assert time.monotonic() - started < 3
    assert "answered only failures" in str(caught.value) and "IBKR_OUTAGE_SECONDS=0.5" in str(caught.value)
    assert not caught.value.retryable


def test_a_success_ends_an_outage() -> None:
    client, _ = make_client(
        {
            "GET /portfolio/accounts": [LISTED],
            "GET /portfolio/U1/ledger": [(503, {"error": "x"}), (200, {"BASE": {}})],
            "GET /portfolio/U1/summary": [(503, {"error": "x"}), (200, {})],
        }
    )
    client.retry = RetryPolicy(base_seconds=0.2, cap_seconds=0.2, max_attempts=5, outage_seconds=0.3)
    client.start()
    assert client.get("/portfolio/U1/ledger") == {"BASE": {}}
    assert client.get("/portfolio/U1/summary") == {}, "the earlier failure no longer counts against the budget"


def test_a_request_that_keeps_failing_is_retryable_for_the_orchestrator() -> None:
    client, _ = make_client(
        {"GET /portfolio/accounts": [LISTED], "GET /portfolio/U1/ledger": [(502, {"error": "Bad Gateway"})]}
    )
    client.start()
    with pytest.raises(TransientError) as caught:
        client.get("/portfolio/U1/ledger")
    assert caught.value.retryable


def test_connection_failures_are_told_apart() -> None:
    refused = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, "/x", urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
        )
    )
    refused.args[0].reason.__cause__ = ConnectionRefusedError(111, "Connection refused")
    unresolvable = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/x", urllib3.exceptions.NameResolutionError("h", None, "no"))
    )
    assert connection_failure(refused) == "refused"
    assert connection_failure(unresolvable) == "unresolvable"
    assert connection_failure(requests.ConnectTimeout()) == "no_answer"
    assert connection_failure(requests.ReadTimeout()) == "other"


def _unreachable_client(port: int, pacing_file: Path, group: str) -> IbkrClient:
    return IbkrClient(
        f"http://127.0.0.1:{port}/v1/api",
        auth=GatewayAuth(poll_seconds=0.01),
        pacer=Pacer(default_limits("gateway"), FilePacingStore(pacing_file)),
        retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.05, unreachable_seconds=0.5),
        seed=1,
        verdict_group=group,
    )


def test_a_runs_other_processes_share_the_nothing_answers_verdict(tmp_path: Path) -> None:
    # Step processes of one run each have their own client but one pacing file: the first to find
    # nothing listening says so, and the others (same run) say the same line without trying.
    port, pacing_file = _closed_port(), tmp_path / "pacing.json"
    first = _unreachable_client(port, pacing_file, "run-1")
    with pytest.raises(GatewayUnreachable) as found:
        first.start()
    assert first.transport.stats.totals().requests > 0, "the first client really tried"

    same_run = _unreachable_client(port, pacing_file, "run-1")
    with pytest.raises(GatewayUnreachable) as told:
        same_run.start()
    assert str(told.value) == str(found.value)
    assert same_run.transport.stats.totals().requests == 0, "told, not tried"

    # Another run (the user restarted the gateway, or not) tries for itself.
    next_run = _unreachable_client(port, pacing_file, "run-2")
    with pytest.raises(GatewayUnreachable):
        next_run.start()
    assert next_run.transport.stats.totals().requests > 0, "the next run tried for itself"
