"""The narrow calls an authenticator or session keeper may make back into a client.

Both ``auth`` and ``session_keeper`` depend on these protocols, never on ``http_client``, so the client
can depend on them without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Protocol

from ibkr_pipelines.client.stats import RunStats

if TYPE_CHECKING:  # auth imports this module; these only name types
    from ibkr_pipelines.client.auth import Authenticator
    from ibkr_pipelines.client.services import Service
    from ibkr_pipelines.client.transport import Body


class SessionCalls(Protocol):
    """What a handshake needs: plain calls, and session-management calls that are never recovered."""

    root_url: str

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path``; the parsed body."""
        ...

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; the parsed body."""
        ...

    def call_unrecovered(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send a session-management request, paced and retried but never recovered (no loops in a handshake)."""
        ...

    def call_service(
        self, service: "Service", method: str, path: str, *, auth: "Authenticator | None" = None,
        body: "Body | None" = None,
    ) -> Any:
        """Send a session-management request to another service on the same host (OAuth 2.0's token, SSO session)."""
        ...


class ListingCalls(SessionCalls, Protocol):
    """What the session keeper needs on top: call-order listings that are not prepared again, and counters."""

    stats: RunStats

    def send_listing(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a call-order listing without preparing for it again."""
        ...
