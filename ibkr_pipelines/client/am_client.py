"""A thin Account Management client on the shared transport (``/gw/api/v1``, reference §3).

Requests carry the OAuth 2.0 access token as bearer (§3.1; ``OAuth2Auth.for_account_management``):
it is bought before the first request and again before it expires, and once more when IBKR answers
401 (it ended early). Answers are JSON, errors RFC 9457 problems raised as ``ProblemAnswer`` in one
line (``am_rules``).
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.calls import SessionCalls
from ibkr_pipelines.client.services import ACCOUNT_MANAGEMENT, Service
from ibkr_pipelines.client.transport import Route, Transport
from ibkr_pipelines.errors import NotAuthenticated

# §3.1: production; the sandbox is https://qa.interactivebrokers.com/gw/api/v1.
DEFAULT_AM_URL = "https://api.ibkr.com/gw/api/v1"


class AccountManagementClient:
    """Account Management calls through a ``Transport`` (paced per endpoint and per master account)."""

    def __init__(
        self,
        transport: Transport,
        *,
        auth: Authenticator,
        base_url: str = DEFAULT_AM_URL,
        service: Service = ACCOUNT_MANAGEMENT,
        caller: SessionCalls | None = None,
    ) -> None:
        """Route Account Management calls through ``transport``, signed by ``auth``.

        ``caller`` makes the token requests (the Client Portal client, on the same host); without one,
        ``auth`` is used as it is (a test's, or a token from elsewhere).
        """
        self.transport = transport
        self.route: Route = transport.route(service, base_url, auth)
        self.caller = caller
        self._lock = threading.Lock()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/gw/api/v1``); parsed JSON, or ``None`` for 204."""
        return self._send("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; parsed JSON, or ``None`` for 204."""
        return self._send("POST", path, params=params, json=json)

    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any = None) -> Any:
        """Send with a token that has time left; on a 401, a new token and once more."""
        auth = self.route.auth
        if self.caller is not None and not auth.session_fresh():
            with self._lock:
                if not auth.session_fresh():
                    auth.open_session(self.caller)
        try:
            return self.transport.send(self.route, method, path, params=params, json=json)
        except NotAuthenticated:
            if self.caller is None:
                raise
            with self._lock:
                auth.open_session(self.caller)
            return self.transport.send(self.route, method, path, params=params, json=json)
