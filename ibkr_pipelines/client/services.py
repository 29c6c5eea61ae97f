"""The IBKR services one transport serves, each with its own rules: root, format, errors, limits, secrets.

- Client Portal (reference §1-2): ``/v1/api``, JSON, its error rules in ``cp_rules``, the gateway or
  OAuth global limit plus per-endpoint scopes (§5).
- Flex Web Service (§4): ``/AccountManagement/FlexWebService``, XML returned as text, error codes in
  ``flex_rules``, 1 req/s and 10 req/min per token (§4.1), the token ``t`` in the query.
- Account Management (§3): ``/gw/api/v1``, JSON with problem+json errors in ``am_rules``, 10 req/s per
  endpoint and 600 req/min per master account (§3.1), a bearer token in ``Authorization``.
- OAuth 2.0 tokens (§1.4): ``/oauth2/api/v1/token``, a form in, JSON or problem+json out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ibkr_pipelines.client import am_rules, cp_rules, flex_rules
from ibkr_pipelines.client.endpoints import (
    ACCOUNT_MANAGEMENT_ENDPOINTS,
    CLIENT_PORTAL_ENDPOINTS,
    OAUTH2_ENDPOINTS,
    FLEX_ENDPOINTS,
    FLEX_TOKEN_PARAM,
    Endpoint,
    EndpointTable,
)
from ibkr_pipelines.client.limits import AM_MASTER_SCOPE, FLEX_SCOPE, Limits, Scope, am_endpoint_scope, endpoint_key
from ibkr_pipelines.client.verdicts import Answer, Verdict


def _cp_scopes(limits: Limits, row: Endpoint, method: str, path: str) -> list[Scope]:
    """The endpoint's scope (from the endpoint table, through ``limits.rules``), then the global one."""
    return limits.scopes_for(method, path)


def _flex_scopes(limits: Limits, row: Endpoint, method: str, path: str) -> list[Scope]:
    """The per-token scope only: Flex is not paced with the Client Portal's global limit."""
    return [limits.scopes.get(row.scope or FLEX_SCOPE.name, FLEX_SCOPE)]


def _am_scopes(limits: Limits, row: Endpoint, method: str, path: str) -> list[Scope]:
    """10 req/s for this endpoint's template, then 600 req/min for the master account (reference §3.1)."""
    own = limits.scopes.get(row.scope) if row.scope else None
    return [own or am_endpoint_scope(endpoint_key(method, path)), limits.scopes.get(AM_MASTER_SCOPE.name, AM_MASTER_SCOPE)]


@dataclass(frozen=True)
class Service:
    """How to talk to one IBKR service; the transport does the rest the same way for all of them."""

    name: str
    root: str  # the path the service's base URL ends in
    accept: str  # the Accept header sent with every request
    classify: Callable[[Answer], Verdict]  # parses the body and says what the answer means
    endpoints: EndpointTable
    scopes: Callable[[Limits, Endpoint, str, str], list[Scope]]
    url_setting: str  # what to check when nothing answers at the address
    unreachable_hint: str
    secret_params: frozenset[str] = frozenset()  # query/body keys never handed to hooks or logs
    secret_headers: frozenset[str] = frozenset({"authorization", "cookie"})

    reset_window: Callable[[str], bool] = field(default=lambda path: False)  # may a failure be a nightly reset?
    keys_with_root: bool = False  # counters name the endpoint with the root (Flex and AM paths are short)

    def endpoint_key(self, method: str, path: str) -> str:
        """The counters' name for a request, e.g. ``GET /portfolio/{accountId}/ledger``."""
        return endpoint_key(method, (self.root if self.keys_with_root else "") + path)

    def secrets(self, row: Endpoint) -> frozenset[str]:
        """The parameter names to strip from what hooks and logs see, for one endpoint."""
        return self.secret_params | row.secret_params


CLIENT_PORTAL = Service(
    name="client_portal",
    root="/v1/api",
    accept="application/json",
    classify=cp_rules.classify,
    endpoints=CLIENT_PORTAL_ENDPOINTS,
    scopes=_cp_scopes,
    url_setting="IBKR_BASE_URL",
    unreachable_hint="is the Client Portal Gateway running there? (IBKR_BASE_URL; unset it to use the embedded simulator)",

    reset_window=cp_rules.in_brokerage_tier,
)

FLEX = Service(
    name="flex",
    root="/AccountManagement/FlexWebService",
    accept="application/xml, text/xml",  # guess: ibflex sends no Accept; IBKR answers XML either way
    classify=flex_rules.classify,
    endpoints=FLEX_ENDPOINTS,
    scopes=_flex_scopes,
    url_setting="the Flex Web Service URL",
    unreachable_hint="is the Flex Web Service address right? (the Flex Web Service URL)",
    secret_params=frozenset({FLEX_TOKEN_PARAM}),
    keys_with_root=True,
)

ACCOUNT_MANAGEMENT = Service(
    name="account_management",
    root="/gw/api/v1",
    accept="application/json",
    classify=am_rules.classify,
    endpoints=ACCOUNT_MANAGEMENT_ENDPOINTS,
    scopes=_am_scopes,
    url_setting="the Account Management URL",
    unreachable_hint="is the Account Management address right? (the Account Management URL)",
    secret_params=frozenset({"client_assertion", "access_token", "refresh_token"}),  # OAuth 2.0 (§1.4)
    keys_with_root=True,
)

# §1.4: the OAuth 2.0 token endpoint, on the same host as the others; problem+json errors as §3.1 says.
OAUTH2 = Service(
    name="oauth2",
    root="/oauth2/api/v1",
    accept="application/json",
    classify=am_rules.classify,
    endpoints=OAUTH2_ENDPOINTS,
    scopes=_am_scopes,
    url_setting="IBKR_BASE_URL (its host serves /oauth2)",
    unreachable_hint="is IBKR_BASE_URL's host IBKR's API (https://api.ibkr.com)?",
    secret_params=frozenset({"client_assertion", "access_token"}),
    keys_with_root=True,
)

SERVICES: dict[str, Service] = {s.name: s for s in (CLIENT_PORTAL, FLEX, ACCOUNT_MANAGEMENT, OAUTH2)}


def service_named(name: str) -> Service:
    """The service called ``name`` (``client_portal``, ``flex``, ``account_management``)."""
    return SERVICES[name]
