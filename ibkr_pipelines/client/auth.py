"""Authenticators: a per-request signer plus the handshakes that open IBKR's session tiers.

The transport applies ``signer()`` to every request right before it goes to the socket (gateway: none;
OAuth 1.0a later: an HMAC-SHA256 signature per request, reference §1.3; OAuth 2.0: a bearer token,
§1.4). The handshakes get a narrow ``SessionCalls`` (``calls.py``), never the client itself, so this
module does not import ``http_client``.

IBKR has two session tiers (reference §1.1): a read-only Web API session, enough for /portfolio, /pa
and /trsrv, and a brokerage session for /iserver. One IBKR username holds one brokerage session
across TWS, the mobile app and the API, so opening it can log the user out elsewhere: strategies open
the read-only tier for every run, and the brokerage tier only when a request needs /iserver, without
taking it from another platform unless the user opted in (``IBKR_COMPETE=true``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Protocol

from requests.auth import AuthBase

from ibkr_pipelines.client.calls import SessionCalls
from ibkr_pipelines.errors import (
    ApiErrorBody,
    BrokerageSessionTaken,
    GatewayNotLoggedIn,
    NoBridge,
    NotAuthenticated,
)

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    """Signs every request and opens and re-opens IBKR's two session tiers; never logs or returns credentials."""

    name: str

    def signer(self) -> AuthBase | None:
        """What to apply to every request just before it is sent (a signature, a bearer token), or None."""
        ...

    def open_session(self, caller: SessionCalls) -> None:
        """Make the read-only session usable (/portfolio, /pa, /trsrv), or raise a typed error saying why not."""
        ...

    def session_fresh(self) -> bool:
        """False when the credentials behind the open session are about to expire (open it again first)."""
        ...

    def open_brokerage(self, caller: SessionCalls) -> None:
        """Make the brokerage session usable (/iserver) without taking it from another platform unless allowed."""
        ...


# The name callers used before authenticators signed requests; the same protocol.
AuthStrategy = Authenticator


class NoAuth:
    """No credentials and no sessions to open (a service reached without a login, or a test)."""

    name = "none"

    def signer(self) -> AuthBase | None:
        """Nothing to sign."""
        return None

    def open_session(self, caller: SessionCalls) -> None:
        """Nothing to open."""

    def session_fresh(self) -> bool:
        """Nothing expires."""
        return True

    def open_brokerage(self, caller: SessionCalls) -> None:
        """Nothing to open."""


def session_healthy(status: Any) -> bool:
    """IBKR's own test of a usable brokerage session: authenticated, connected and not competing."""
    if not isinstance(status, dict):
        return False
    return bool(status.get("authenticated")) and bool(status.get("connected")) and not status.get("competing")


def _competing(status: Any) -> bool:
    return isinstance(status, dict) and bool(status.get("competing"))


def _taken() -> BrokerageSessionTaken:
    return BrokerageSessionTaken(
        "another platform (TWS or the IBKR mobile app) holds this login's brokerage session, which this "
        "dataset needs: log out there, or set IBKR_COMPETE=true to take it over (that logs the other one out)",
        endpoint="POST /iserver/auth/status",
    )


def open_brokerage_tier(
    caller: SessionCalls,
    *,
    compete: bool,
    status_polls: int,
    poll_seconds: float,
    not_logged_in: Callable[[str], Exception],
) -> None:
    """``auth/status``, then ``ssodh/init`` only when the tier is down, competing only if allowed (every login mode).

    ``not_logged_in`` turns a 401 on ``endpoint`` into the error of this login mode (a person must log in
    at the gateway; OAuth credentials refused).
    """
    try:
        status = caller.call_unrecovered("POST", "/iserver/auth/status")
    except NotAuthenticated:
        raise not_logged_in("POST /iserver/auth/status") from None
    if session_healthy(status):
        return
    if _competing(status) and not compete:
        raise _taken()
    # Two rounds of ssodh/init and polls: a poll that waited on pacing (a penalty box on every endpoint
    # outlasting the gateway's idle timeout) can find the session opened just before already idled out.
    for _round in range(2):
        try:
            caller.call_unrecovered("POST", "/iserver/auth/ssodh/init", json={"publish": True, "compete": compete})
        except NotAuthenticated:
            raise not_logged_in("POST /iserver/auth/ssodh/init") from None
        for _ in range(status_polls):
            try:
                status = caller.call_unrecovered("POST", "/iserver/auth/status")
            except NotAuthenticated:
                raise not_logged_in("POST /iserver/auth/status") from None
            if session_healthy(status):
                log.info("IBKR brokerage session established")
                return
            if _competing(status) and not compete:
                raise _taken()
            time.sleep(poll_seconds)
    raise NoBridge(
        "the brokerage session did not come up after ssodh/init "
        f"(authenticated={status.get('authenticated') if isinstance(status, dict) else None}, "
        f"competing={status.get('competing') if isinstance(status, dict) else None})",
        endpoint="POST /iserver/auth/status",
    )


def setting_to_fix(text: str, causes: tuple[tuple[tuple[str, ...], str], ...], fallback: str) -> str:
    """The fix of the first cause whose words a refusal text holds (case-insensitive), else ``fallback``.

    IBKR's refusal texts are mostly unpublished, so each OAuth mode reads them by keyword; a keyword may
    begin with a space to match only at a word's start (the text is searched with one space before it).
    """
    lowered = f" {text.lower()}"
    for words, fix in causes:
        if any(w in lowered for w in words):
            return fix
    return fallback


class _Refused401(Exception):
    """A 401 while opening the brokerage tier with credentials that may have just ended."""


def open_brokerage_renewing(
    caller: SessionCalls,
    *,
    compete: bool,
    status_polls: int,
    poll_seconds: float,
    renew: Callable[[], None],
    refused: Callable[[str], Exception],
) -> None:
    """``open_brokerage_tier`` for token modes: on a 401, new credentials (``renew``) and once more, then ``refused``.

    A token IBKR ended (expiry, revocation, its nightly reset) shows first as a 401 on ``auth/status``;
    the second 401, with fresh credentials, is the user's to fix.
    """
    def first_401(endpoint: str) -> Exception:
        return _Refused401(endpoint)

    try:
        open_brokerage_tier(caller, compete=compete, status_polls=status_polls, poll_seconds=poll_seconds,
                            not_logged_in=first_401)
    except _Refused401:
        renew()
        open_brokerage_tier(caller, compete=compete, status_polls=status_polls, poll_seconds=poll_seconds,
                            not_logged_in=refused)


class GatewayAuth:
    """Client Portal Gateway: a person logged in at the gateway; callers send no credentials."""

    name = "gateway"

    def __init__(self, *, compete: bool = False, status_polls: int = 3, poll_seconds: float = 1.0) -> None:
        self.compete = compete
        self.status_polls = status_polls
        self.poll_seconds = poll_seconds

    def signer(self) -> AuthBase | None:
        """Nothing to sign: the gateway adds the session itself (reference §1.2)."""
        return None

    def _not_logged_in(self, caller: SessionCalls, endpoint: str) -> GatewayNotLoggedIn:
        return GatewayNotLoggedIn(
            f"the IBKR gateway at {caller.root_url} holds no login: open it in a browser, log in, then re-run",
            endpoint=endpoint,
            status=401,
        )

    def open_session(self, caller: SessionCalls) -> None:
        """``/tickle``: 200 with a session means the read-only tier is up; 401 or "no session" needs a person."""
        try:
            caller.call_unrecovered("POST", "/tickle")
        except NotAuthenticated:
            raise self._not_logged_in(caller, "POST /tickle") from None
        except ApiErrorBody as refused:
            if refused.text == "no session":  # ibeam reads exactly this body as "no session"
                raise self._not_logged_in(caller, "POST /tickle") from None
            raise

    def session_fresh(self) -> bool:
        """The gateway keeps its own login alive (the keep-alive tickles it); nothing here expires."""
        return True

    def open_brokerage(self, caller: SessionCalls) -> None:
        """``auth/status``; when the tier is down, ``ssodh/init`` competing only if allowed; never a silent takeover."""
        open_brokerage_tier(caller, compete=self.compete, status_polls=self.status_polls, poll_seconds=self.poll_seconds,
                            not_logged_in=lambda endpoint: self._not_logged_in(caller, endpoint))
