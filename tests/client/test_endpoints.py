"""The endpoint table: one place says each endpoint's scope, priming, tolerated answers, secrets, archiving."""

from __future__ import annotations

import itertools

import pytest

from ibkr_pipelines.client.endpoints import (
    ACCOUNT_MANAGEMENT_ENDPOINTS,
    CLIENT_PORTAL_ENDPOINTS,
    FLEX_ENDPOINTS,
    OAUTH2_ENDPOINTS,
    Prime,
    sparse_positions_page,
)
from ibkr_pipelines.client.limits import default_limits

CP = CLIENT_PORTAL_ENDPOINTS


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/portfolio/accounts", "portfolio_accounts"),
        ("POST", "/portfolio/accounts", None),
        ("GET", "/portfolio/subaccounts2", "portfolio_subaccounts"),
        ("GET", "/iserver/account/trades", "trades"),
        ("GET", "/iserver/trades", "trades"),
        ("GET", "/iserver/marketdata/history", "history"),
        ("GET", "/hmds/history", "history"),
        ("POST", "/pa/performance", "pa_performance"),
        ("PUT", "/fyi/disclaimer/M8", "fyi"),
        ("POST", "/tickle", "tickle"),
        ("GET", "/portfolio/U1/ledger", None),
        ("GET", "/trsrv/secdef?conids=1", None),
    ],
)
def test_scope_of_an_endpoint(method: str, path: str, scope: str | None) -> None:
    assert CP.lookup(method, path).scope == scope


@pytest.mark.parametrize(
    ("method", "path", "prime"),
    [
        ("GET", "/portfolio/U1/ledger", Prime.ACCOUNT),
        ("POST", "/portfolio/U1/positions/invalidate", Prime.ACCOUNT),
        ("GET", "/portfolio2/F7654321/positions", Prime.ACCOUNT),
        ("GET", "/portfolio/positions/8314", Prime.PORTFOLIO_ACCOUNTS),
        ("GET", "/portfolio/accounts", Prime.NONE),
        ("GET", "/portfolio/subaccounts", Prime.NONE),
        ("POST", "/portfolio/allocation", Prime.NONE),
        ("GET", "/iserver/marketdata/snapshot", Prime.ISERVER_ACCOUNTS),
        ("GET", "/iserver/account/orders", Prime.ISERVER_ACCOUNTS),
        ("GET", "/iserver/account/order/status/1", Prime.ISERVER_ACCOUNTS),
        ("GET", "/iserver/account/trades", Prime.ISERVER_ACCOUNTS),
        ("GET", "/iserver/accounts", Prime.NONE),
        ("GET", "/trsrv/secdef", Prime.NONE),
    ],
)
def test_priming_prerequisite(method: str, path: str, prime: Prime) -> None:
    assert CP.lookup(method, path).prime is prime


@pytest.mark.parametrize(
    "path", ["/tickle", "/iserver/auth/status", "/iserver/auth/ssodh/init", "/iserver/reauthenticate", "/sso/validate", "/logout"]
)
def test_session_answers_are_never_archived(path: str) -> None:
    assert not CP.lookup("POST", path).archive and not CP.lookup("GET", path).archive


def test_data_answers_are_archived() -> None:
    assert CP.lookup("GET", "/portfolio/accounts").archive and CP.lookup("GET", "/iserver/accounts").archive
    # OAuth 2.0 answers tokens (reference §1.4): the token endpoint and the SSO session, never archived.
    assert not OAUTH2_ENDPOINTS.lookup("POST", "/token").archive
    assert OAUTH2_ENDPOINTS.lookup("POST", "/token").secret_params == {"client_assertion"}
    assert not ACCOUNT_MANAGEMENT_ENDPOINTS.lookup("POST", "/sso-sessions").archive
    assert ACCOUNT_MANAGEMENT_ENDPOINTS.lookup("GET", "/statements/available").archive


def test_the_flex_token_is_a_secret_of_both_steps() -> None:
    for path in ("/SendRequest", "/GetStatement", "/Universal/servlet/FlexStatementService.SendRequest"):
        row = FLEX_ENDPOINTS.lookup("GET", path)
        assert row.secret_params == {"t"} and row.scope == "flex_token"
    assert CP.lookup("GET", "/portfolio/accounts").secret_params == frozenset()


def test_tolerated_answers() -> None:
    history = CP.lookup("GET", "/iserver/marketdata/history")
    assert history.tolerance(200, "No data.") is not None and history.tolerance(200, "No data.").then == "empty"
    assert history.tolerance(400, "No data.") is not None
    assert history.tolerance(400, "Bad Request: invalid conid") is None
    assert CP.lookup("GET", "/hmds/history").tolerance(404, "").then == "retry"
    assert CP.lookup("GET", "/portfolio/accounts").tolerance(404, "") is None


def test_completeness_check_for_position_pages() -> None:
    row = CP.lookup("GET", "/portfolio/U1/positions/0")
    assert row.incomplete is sparse_positions_page and row.prime is Prime.ACCOUNT
    assert row.incomplete([{"conid": 1}, {"conid": 2, "ticker": "AAPL"}])
    assert not row.incomplete([{"conid": 2, "ticker": "AAPL"}, {"conid": 3, "name": "X"}]) and not row.incomplete([])


def test_every_table_answers_every_request() -> None:
    for table in (CP, FLEX_ENDPOINTS, ACCOUNT_MANAGEMENT_ENDPOINTS):
        assert table.lookup("PATCH", "/anything/at/all").pattern.pattern == ".*"


def test_the_limits_read_their_scopes_from_the_table() -> None:
    """One source: the pacing rules and the table agree on every endpoint."""
    limits = default_limits("gateway")
    paths = [r.pattern.pattern for r in CP.rows if r.scope and not any(c in r.pattern.pattern for c in "(|?")]
    paths += ["/portfolio/subaccounts", "/portfolio/subaccounts2", "/fyi/notifications/more", "/fyi/settings/M8", "/portfolio/U1/ledger", "/trsrv/secdef", "/iserver/accounts"]
    for method, path in itertools.product(["GET", "POST", "PUT", "DELETE"], paths):
        own = limits.endpoint_scope(method, path)
        assert CP.lookup(method, path).scope == (own.name if own else None), f"{method} {path}"
