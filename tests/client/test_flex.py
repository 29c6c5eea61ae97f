"""Flex Web Service through the shared transport: XML as text, IBKR's error codes, and a token kept secret."""

from __future__ import annotations

import functools
import gzip
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ibkr_pipelines.client import flex_rules
from ibkr_pipelines.client.flex_client import FlexClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import MemoryPacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.services import FLEX
from ibkr_pipelines.client.transport import Transport
from ibkr_pipelines.errors import FlexError, NotReady
from ibkr_pipelines.land.raw_archive import RawArchive
from tests.client.loopback import Loopback

TOKEN = "184726351937465920173"  # a made-up token: must never be written anywhere
ROOT = "/AccountManagement/FlexWebService"
SEND = f"GET {ROOT}/SendRequest"
GET = f"GET {ROOT}/GetStatement"

SENT = (
    b'<FlexStatementResponse timestamp="28 August, 2012 10:37 AM EDT"><Status>Success</Status>'
    b"<ReferenceCode>1234567890</ReferenceCode>"
    b"<Url>https://gdcdyn.interactivebrokers.com/AccountManagement/FlexWebService/GetStatement</Url>"
    b"</FlexStatementResponse>"
)
STATEMENT = (
    b'<FlexQueryResponse queryName="Test" type="AF"><FlexStatements count="1">'
    b'<FlexStatement accountId="U666777" fromDate="20260401" toDate="20260401" period="LastBusinessDay" '
    b'whenGenerated="20260402;010203"><OpenPositions><OpenPosition conid="8314" position="10"/></OpenPositions>'
    b"</FlexStatement></FlexStatements></FlexQueryResponse>"
)


def refused(code: str, message: str, status: str = "Fail") -> tuple[int, bytes]:
    """A FlexStatementResponse carrying an error code (reference §4.2)."""
    return 200, (
        f'<FlexStatementResponse timestamp="28 August, 2012 10:37 AM EDT"><Status>{status}</Status>'
        f"<ErrorCode>{code}</ErrorCode><ErrorMessage>{message}</ErrorMessage></FlexStatementResponse>"
    ).encode()


def flex_client(server: Loopback, *, pause: float = 0.05) -> FlexClient:
    limits = default_limits("gateway").with_overrides("flex_token=100/1")
    transport = Transport(
        pacer=Pacer(limits, MemoryPacingStore()),
        retry=RetryPolicy(base_seconds=0.01, cap_seconds=0.02, deadline_seconds=5),
        seed=1,
    )
    service = replace(FLEX, classify=functools.partial(flex_rules.classify, throttled_pause=pause))
    return FlexClient(transport, TOKEN, base_url=server.url + ROOT, service=service)


def test_both_steps_return_the_xml_as_text() -> None:
    with Loopback({SEND: [(200, SENT)], GET: [(200, STATEMENT)]}).running() as server:
        flex = flex_client(server)
        reference = flex.send_request("987654")
        statement = flex.get_statement(reference.code)
    assert reference.code == "1234567890" and reference.url.endswith("/GetStatement")
    assert statement == STATEMENT.decode()
    assert [s.query for s in server.seen] == [
        {"t": [TOKEN], "q": ["987654"], "v": ["3"]},
        {"t": [TOKEN], "q": ["1234567890"], "v": ["3"]},
    ]


def test_1018_too_many_requests_is_retried_after_a_backoff() -> None:
    script = {SEND: [refused("1018", "Too many requests have been made from this token."), (200, SENT)]}
    with Loopback(script).running() as server:
        flex = flex_client(server, pause=0.3)
        started = time.monotonic()
        assert flex.send_request("987654").code == "1234567890"
        took = time.monotonic() - started
    assert len(server.seen) == 2 and took >= 0.3
    counters = flex.transport.stats.as_dict()["endpoints"][SEND]
    assert counters["retries"] == 1 and counters["throttled"] == 1 and counters["errors"] == 0


def test_1019_statement_generating_is_not_ready_yet() -> None:
    script = {GET: [refused("1019", "Statement generation in progress. Please try again shortly.", "Warn")]}
    with Loopback(script).running() as server:
        with pytest.raises(NotReady) as caught:
            flex_client(server).get_statement("1234567890")
    assert len(server.seen) == 1, "polling a generating statement is the caller's decision"
    assert caught.value.retryable and caught.value.code == "1019"
    assert "not ready yet" in str(caught.value) and "\n" not in str(caught.value)


def test_server_busy_is_retried_like_a_5xx() -> None:
    with Loopback({GET: [refused("1009", "The server is under heavy load."), (200, STATEMENT)]}).running() as server:
        assert flex_client(server).get_statement("1") == STATEMENT.decode()
    assert len(server.seen) == 2


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("1012", "Token has expired."),
        ("1015", "Token is invalid."),
        ("1013", "IP restriction."),
        ("1020", "Invalid request or unable to validate request."),
        ("1999", "Something IBKR has not documented."),
    ],
)
def test_terminal_codes_end_at_once_in_one_line(code: str, words: str) -> None:
    with Loopback({SEND: [refused(code, words)]}).running() as server:
        with pytest.raises(FlexError) as caught:
            flex_client(server).send_request("987654")
    message = str(caught.value)
    assert len(server.seen) == 1 and not caught.value.retryable and caught.value.code == code
    assert f"Flex error {code} {words}" in message and "\n" not in message and TOKEN not in message


def test_a_truncated_statement_is_read_again() -> None:
    with Loopback({GET: [(200, STATEMENT[:60]), (200, STATEMENT)]}).running() as server:
        assert flex_client(server).get_statement("1") == STATEMENT.decode()


def test_the_token_never_reaches_the_archive_or_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    archive = RawArchive(tmp_path)
    caplog.set_level(logging.DEBUG)
    script = {SEND: [refused("1018", "Too many requests."), (200, SENT)], GET: [(200, STATEMENT)]}
    with Loopback(script).running() as server:
        flex = flex_client(server, pause=0.01)
        with flex.transport.recording(archive.hook("2026-04-01")):
            flex.get_statement(flex.send_request("987654").code)
    assert all(s.query["t"] == [TOKEN] for s in server.seen), "IBKR itself gets the token"
    entries = archive.entries("2026-04-01")
    assert [e["params"] for e in entries] == [{"q": "987654", "v": 3}, {"q": "1234567890", "v": 3}]
    assert all(e["body"] is None for e in entries)
    for path in (tmp_path / "raw").rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert TOKEN.encode() not in (gzip.decompress(raw) if path.suffix == ".gz" else raw), path
    assert any("SendRequest" in r.getMessage() for r in caplog.records if r.name.startswith("urllib3")), "URLs were logged"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(flex)
