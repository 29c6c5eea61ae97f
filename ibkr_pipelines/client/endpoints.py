"""One table of what IBKR's endpoints need, per service: pacing scope, priming, tolerated answers, secrets.

Each row matches a method and a path (relative to the service root, e.g. ``/v1/api`` for Client
Portal) and says:

- ``scope``: the per-endpoint pacing scope (``limits.py`` builds its rules from these rows, so a
  scope is named in one place only);
- ``prime``: the call-order listing IBKR wants first in a session (reference §2.1);
- ``tolerated``: error answers that mean something else (history's "No data." is an empty answer);
- ``incomplete`` and ``rereads``: a completeness check for sparse reads (a page that came back cold
  is read again, reference §6 "Cold first read");
- ``secret_params``: query or body keys that must never reach a response hook, the archive or a log;
- ``archive``: False for session answers (session ids, tokens), never handed to response hooks;
- ``secret_fields``: keys of a data answer that are a secret (the gateway session id that
  ``/iserver/accounts`` answers beside the accounts), removed before hooks get it;
- ``document_fields``: keys of an answer holding a document's bytes in base64 (a statement's PDF):
  hooks get the document's sha256 and size in their place: the caller keeps the document as a file,
  and the raw archive is a store of JSON text.

The first row that matches wins; every table ends with a catch-all row, so a lookup always answers.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping


class Prime(enum.Enum):
    """A call-order listing a session must make before an endpoint (reference §2.1)."""

    NONE = "none"
    # /portfolio/{accountId}/...: a listing naming the account (/portfolio/accounts, then sub-accounts).
    ACCOUNT = "account"
    # /portfolio/positions/{conid}: /portfolio/accounts once in the session.
    PORTFOLIO_ACCOUNTS = "portfolio_accounts"
    # snapshot, orders, trades: /iserver/accounts once in the brokerage session.
    ISERVER_ACCOUNTS = "iserver_accounts"


@dataclass(frozen=True)
class Tolerance:
    """An error answer that is not an error: ``text`` (IBKR's error text) at one of ``statuses``.

    ``then`` is ``"empty"`` (return ``None``, as a 204 would) or ``"retry"`` (read again under the
    retry policy, without counting an error).
    """

    text: re.Pattern[str] | None
    statuses: frozenset[int]
    then: str
    reason: str

    def matches(self, status: int, text: str) -> bool:
        """True when an answer with this status and error text is covered."""
        return status in self.statuses and (self.text is None or bool(self.text.fullmatch(text.strip())))


@dataclass(frozen=True)
class Endpoint:
    """One row of an endpoint table (see the module docstring for what each field means)."""

    pattern: re.Pattern[str]
    methods: frozenset[str] = frozenset()  # empty: any method
    scope: str | None = None
    prime: Prime = Prime.NONE
    tolerated: tuple[Tolerance, ...] = ()
    incomplete: Callable[[Any], bool] | None = None
    rereads: int = 0
    secret_params: frozenset[str] = frozenset()
    archive: bool = True
    # keys of the answer (exact spelling, any depth) never handed to hooks: a session id beside the data
    secret_fields: frozenset[str] = frozenset()
    # keys of the answer (exact spelling, any depth) holding base64 document bytes: hooks get a digest instead
    document_fields: frozenset[str] = frozenset()

    def matches(self, method: str, path: str) -> bool:
        """True when this row covers ``method path`` (the path without its query string)."""
        return (not self.methods or method.upper() in self.methods) and bool(self.pattern.fullmatch(path))

    def tolerance(self, status: int, text: str) -> Tolerance | None:
        """The tolerated answer this status and error text are, if any."""
        return next((t for t in self.tolerated if t.matches(status, text)), None)


def row(
    regex: str,
    *methods: str,
    scope: str | None = None,
    prime: Prime = Prime.NONE,
    tolerated: Iterable[Tolerance] = (),
    incomplete: Callable[[Any], bool] | None = None,
    rereads: int = 0,
    secret_params: Iterable[str] = (),
    archive: bool = True,
    secret_fields: Iterable[str] = (),
    document_fields: Iterable[str] = (),
) -> Endpoint:
    """An ``Endpoint`` from a path regex (matched in full) and the methods it covers (none: all)."""
    return Endpoint(
        pattern=re.compile(regex),
        methods=frozenset(m.upper() for m in methods),
        scope=scope,
        prime=prime,
        tolerated=tuple(tolerated),
        incomplete=incomplete,
        rereads=rereads,
        secret_params=frozenset(secret_params),
        archive=archive,
        secret_fields=frozenset(secret_fields),
        document_fields=frozenset(document_fields),
    )


class EndpointTable:
    """Rows in order; the first match wins, and the last row matches everything."""

    def __init__(self, service: str, rows: Iterable[Endpoint]) -> None:
        """Keep ``rows`` for ``service``; a catch-all row is added when the last one does not match everything."""
        self.service = service
        found = list(rows)
        if not found or found[-1].pattern.pattern != ".*" or found[-1].methods:
            found.append(row(".*"))
        self.rows: tuple[Endpoint, ...] = tuple(found)

    def lookup(self, method: str, path: str) -> Endpoint:
        """The row for ``method path`` (query string ignored)."""
        bare = path.split("?")[0]
        return next(r for r in self.rows if r.matches(method, bare))

    def with_rows(self, *rows: Endpoint) -> "EndpointTable":
        """A copy with ``rows`` tried first (tests, and services that learn an endpoint)."""
        return EndpointTable(self.service, (*rows, *self.rows))


# -- Client Portal (paths relative to /v1/api) ----------------------------------------------------

_ACCOUNT_PATH = re.compile(r"^/portfolio2?/(?P<account>[A-Za-z0-9]+)/")
# /portfolio/{x}/ segments that are endpoints, not account ids.
_NOT_ACCOUNTS = {"accounts", "subaccounts", "subaccounts2", "allocation", "positions"}


def account_in(path: str) -> str | None:
    """The account id of a ``/portfolio/{accountId}/...`` (or ``/portfolio2``) path, else None."""
    found = _ACCOUNT_PATH.match(path)
    if found is None or found["account"] in _NOT_ACCOUNTS:
        return None
    return found["account"]


_SECDEF_MARKERS = ("ticker", "name")


def sparse_positions_page(body: Any) -> bool:
    """True when a positions page has a row without its security definition (no ``ticker``, no ``name``).

    IBKR's first read in a session can come back so, and an immediate repeat is full (reference §6
    "Cold first read"; ibind #6). The positions extractor re-reads such pages itself today, keeping
    each row's fullest answer, so the row below leaves ``rereads`` at 0.
    """
    rows = body if isinstance(body, list) else []
    return any(
        isinstance(r, Mapping) and not any(isinstance(r.get(k), str) and r.get(k).strip() for k in _SECDEF_MARKERS)
        for r in rows
    )


# History with nothing in the range: an error body {"error": "No data."} (reference §6, ibind). The
# reference gives no status: 200 as ibind sees it; 400 is a guess.
NO_DATA = Tolerance(re.compile(r"No data\.?", re.IGNORECASE), frozenset({200, 400}), "empty", "no data")
# The first /hmds call answers 404 while the farm starts, then OK (reference §6).
HMDS_WARMUP = Tolerance(None, frozenset({404}), "retry", "first /hmds call answers 404 while the farm starts")

_SESSION_ANSWER = {"archive": False}  # session ids and tokens: never handed to response hooks

CLIENT_PORTAL_ENDPOINTS = EndpointTable(
    "client_portal",
    (
        # §2.2: the answer carries the gateway session's id ("sessionId") beside the accounts.
        row(r"/iserver/accounts", "GET", secret_fields=("sessionId",)),
        # Session management (reference §1.2 "Session endpoints"): carries session ids, never archived.
        row(r"/tickle", "GET", "POST", scope="tickle", **_SESSION_ANSWER),  # §5.2: 1 req/s
        row(r"/tickle.*", **_SESSION_ANSWER),
        row(r"/iserver/auth/.*", **_SESSION_ANSWER),
        row(r"/iserver/reauthenticate.*", **_SESSION_ANSWER),
        row(r"/sso/validate", "GET", scope="sso_validate", **_SESSION_ANSWER),  # §5.2: 1 req/min
        row(r"/sso/.*", **_SESSION_ANSWER),
        row(r"/logout.*", **_SESSION_ANSWER),
        # OAuth 1.0a's live session token (§1.3): its answer derives the LST, never archived.
        row(r"/oauth/.*", **_SESSION_ANSWER),
        # Market data (§2.8, §5.2). Snapshot needs /iserver/accounts first (§2.1, ibind #38).
        row(r"/iserver/marketdata/snapshot", "GET", scope="marketdata_snapshot", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/marketdata/snapshot.*", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/marketdata/history", "GET", scope="history", tolerated=(NO_DATA,)),  # §5.2: 5 concurrent
        row(r"/hmds/history", "GET", scope="history", tolerated=(NO_DATA, HMDS_WARMUP)),
        row(r"/hmds/.*", tolerated=(HMDS_WARMUP,)),
        row(r"/iserver/scanner/params", "GET", scope="scanner_params"),  # §5.2: 1 req / 15 min
        row(r"/iserver/scanner/run", "POST", scope="scanner_run"),  # §5.2: 1 req/s
        # Trades and orders (§2.6, §5.2: 1 req / 5 s). /iserver/accounts first: IBKR refuses with "Please
        # query /accounts first" otherwise (§2.1); public clients report it on trades too (lumibot and others).
        row(r"/iserver/account/trades", "GET", scope="trades", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/account/trades.*", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/trades", "GET", scope="trades"),
        row(r"/iserver/account/orders", "GET", scope="orders", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/account/orders.*", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/account/order/.*", prime=Prime.ISERVER_ACCOUNTS),
        row(r"/iserver/orders", "GET", scope="orders"),
        row(r"/iserver/account/pnl/partitioned", "GET", scope="pnl_partitioned"),  # §5.2: 1 req / 5 s
        # Accounts and listings (§2.2, §5.2: 1 req / 5 s). The paged twin is paced the same (unverified).
        row(r"/portfolio/accounts", "GET", scope="portfolio_accounts"),
        row(r"/portfolio/subaccounts2?", "GET", scope="portfolio_subaccounts"),
        # /portfolio/positions/{conid}: /portfolio/accounts first (§2.1).
        row(r"/portfolio/positions/.*", prime=Prime.PORTFOLIO_ACCOUNTS),
        # A position page; cold reads are re-read by the positions extractor (see sparse_positions_page).
        row(
            r"/portfolio2?/(?!(?:accounts|subaccounts2?|allocation|positions)/)[A-Za-z0-9]+/positions/\d+",
            "GET",
            prime=Prime.ACCOUNT,
            incomplete=sparse_positions_page,
        ),
        # Every other /portfolio/{accountId}/... needs a listing naming the account (§2.1).
        row(r"/portfolio2?/(?!(?:accounts|subaccounts2?|allocation|positions)/)[A-Za-z0-9]+/.*", prime=Prime.ACCOUNT),
        # Portfolio Analyst (§2.7, §5.2): 1 req / 15 min each; /pa/allperiods by §2.7's rule for every /pa.
        row(r"/pa/performance", "POST", scope="pa_performance"),
        row(r"/pa/summary", "POST", scope="pa_summary"),
        row(r"/pa/transactions", "POST", scope="pa_transactions"),
        row(r"/pa/allperiods", "POST", scope="pa_allperiods"),
        # Notifications (§2.10, §5.2): 1 req/s, any method.
        row(r"/fyi/(unreadnumber|settings(/[^/]+)?|disclaimer/[^/]+|deliveryoptions.*|notifications(/more|/[^/]+)?)", scope="fyi"),
        row(r".*"),
    ),
)


def prime_for(path: str, method: str = "GET") -> Prime:
    """The call-order listing a Client Portal request needs first."""
    return CLIENT_PORTAL_ENDPOINTS.lookup(method, path).prime


# -- Flex Web Service (paths relative to .../AccountManagement/FlexWebService) ---------------------

# The token is the `t` query parameter of both steps (reference §4.1): it must never be archived or logged.
FLEX_TOKEN_PARAM = "t"

FLEX_ENDPOINTS = EndpointTable(
    "flex",
    (
        # §4.1 step 1 (also the older FlexStatementService.SendRequest servlet); §4.1/§5.2: 1 req/s, 10/min per token.
        row(r".*SendRequest", "GET", scope="flex_token", secret_params=(FLEX_TOKEN_PARAM,)),
        # §4.1 step 2.
        row(r".*GetStatement", "GET", scope="flex_token", secret_params=(FLEX_TOKEN_PARAM,)),
        row(r".*", scope="flex_token", secret_params=(FLEX_TOKEN_PARAM,)),
    ),
)


# -- Account Management (paths relative to /gw/api/v1) ------------------------------------------

# §3.1: every endpoint is paced on its own (10 req/s) and per master account (600/min); the transport
# makes the per-endpoint scope from the endpoint's template, so the rows carry no scope.
ACCOUNT_MANAGEMENT_ENDPOINTS = EndpointTable(
    "account_management",
    (
        # §1.4 step 4: the SSO session answers the Client Portal bearer; its body is a signed JWS. Never archived.
        row(r"/sso-sessions", "POST", **_SESSION_ANSWER),
        # §3.3: the statement document is base64 in data.value (PDF or HTML, maybe gzipped); it lands as a
        # file in the lake, so the archive keeps the envelope and the document's sha256 and size only.
        row(r"/statements", "POST", document_fields=("value",)),
        row(r".*"),
    ),
)

# -- OAuth 2.0 token endpoint (paths relative to /oauth2/api/v1) ---------------------------------

# §1.4 steps 1-3: client assertions in, access tokens out; never archived. Paced as Account
# Management is (§3.1, 10 req/s per endpoint): a guess, the reference gives the token endpoint no limit.
OAUTH2_ENDPOINTS = EndpointTable(
    "oauth2",
    (
        row(r"/token", "POST", secret_params=("client_assertion",), **_SESSION_ANSWER),
        row(r".*", **_SESSION_ANSWER),
    ),
)

TABLES: dict[str, EndpointTable] = {
    t.service: t for t in (CLIENT_PORTAL_ENDPOINTS, FLEX_ENDPOINTS, ACCOUNT_MANAGEMENT_ENDPOINTS, OAUTH2_ENDPOINTS)
}
