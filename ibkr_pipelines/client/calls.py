"""The narrow calls an authenticator or session keeper may make back into a client.

Both ``auth`` and ``session_keeper`` depend on these protocols, never on ``http_client``, so the client
can depend on them without an import cycle.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

from ibkr_pipelines.client.stats import RunStats


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


class ListingCalls(SessionCalls, Protocol):
    """What the session keeper needs on top: call-order listings that are not prepared again, and counters."""

    stats: RunStats

    def send_listing(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a call-order listing without preparing for it again."""
        ...
