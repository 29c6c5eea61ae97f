"""A thin Account Management client on the shared transport (``/gw/api/v1``, reference §3).

Requests are signed by the authenticator (an OAuth 2.0 bearer token later, §1.4); answers are JSON,
errors RFC 9457 problems raised as ``ProblemAnswer`` in one line (``am_rules``).
"""

from __future__ import annotations

from typing import Any, Mapping

from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.services import ACCOUNT_MANAGEMENT, Service
from ibkr_pipelines.client.transport import Route, Transport

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
    ) -> None:
        """Route Account Management calls through ``transport``, signed by ``auth``."""
        self.transport = transport
        self.route: Route = transport.route(service, base_url, auth)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/gw/api/v1``); parsed JSON, or ``None`` for 204."""
        return self.transport.send(self.route, "GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; parsed JSON, or ``None`` for 204."""
        return self.transport.send(self.route, "POST", path, params=params, json=json)
