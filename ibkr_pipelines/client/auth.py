"""Authentication strategies. The gateway holds the login itself; OAuth 1.0a and 2.0 slot in here later."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import requests

from ibkr_pipelines.errors import GatewayNotLoggedIn, NoBridge, NotAuthenticated

if TYPE_CHECKING:
    from ibkr_pipelines.client.http_client import IbkrClient

log = logging.getLogger(__name__)

SSODH_INIT_BODY = {"publish": True, "compete": True}


class AuthStrategy(Protocol):
    """Opens and re-opens an IBKR session for a client; never logs or returns credentials."""

    name: str

    def prepare(self, session: requests.Session) -> None:
        """Attach whatever every request needs (signing, bearer token); nothing for the gateway."""
        ...

    def establish(self, client: "IbkrClient") -> None:
        """Make the session usable, brokerage tier included, or raise a typed error saying why not."""
        ...


def session_healthy(status: Any) -> bool:
    """IBKR's own test of a usable session: authenticated, connected and not competing."""
    if not isinstance(status, dict):
        return False
    return bool(status.get("authenticated")) and bool(status.get("connected")) and not status.get("competing")


class GatewayAuth:
    """Client Portal Gateway: a person logged in at the gateway; callers send no credentials."""

    name = "gateway"

    def __init__(self, *, status_polls: int = 3, poll_seconds: float = 1.0) -> None:
        self.status_polls = status_polls
        self.poll_seconds = poll_seconds

    def prepare(self, session: requests.Session) -> None:
        """Nothing to attach: the gateway adds the session itself."""

    def establish(self, client: "IbkrClient") -> None:
        """Check ``/iserver/auth/status``; open the brokerage tier with ``ssodh/init`` when missing."""
        try:
            status = client.call_unrecovered("POST", "/iserver/auth/status")
        except NotAuthenticated:
            status = None
        if session_healthy(status):
            return
        try:
            client.call_unrecovered("POST", "/iserver/auth/ssodh/init", json=SSODH_INIT_BODY)
        except NotAuthenticated:
            raise GatewayNotLoggedIn(
                f"the IBKR gateway at {client.root_url} holds no login: open it in a browser, log in, then re-run",
                endpoint="POST /iserver/auth/ssodh/init",
                status=401,
            ) from None
        for _ in range(self.status_polls):
            status = client.call_unrecovered("POST", "/iserver/auth/status")
            if session_healthy(status):
                log.info("IBKR brokerage session established through the gateway")
                return
            time.sleep(self.poll_seconds)
        raise NoBridge(
            "the brokerage session did not come up after ssodh/init "
            f"(authenticated={status.get('authenticated') if isinstance(status, dict) else None}, "
            f"competing={status.get('competing') if isinstance(status, dict) else None})",
            endpoint="POST /iserver/auth/status",
        )
