"""A thin Flex Web Service client on the shared transport: SendRequest, then GetStatement (reference §4.1).

The token travels as the ``t`` query parameter, as IBKR requires; the transport strips it from what
response hooks see and redacts it from request logs, and this class never shows it in a message or a
``repr``. Polling a statement that is still generating is the caller's decision: ``get_statement``
raises ``NotReady`` (code 1019 and the other "not ready" codes of §4.2) instead of waiting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Mapping

from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.endpoints import FLEX_TOKEN_PARAM
from ibkr_pipelines.client.services import FLEX, Service
from ibkr_pipelines.client.transport import Route, Transport
from ibkr_pipelines.errors import FlexError

# §4.1: the current host and path of both steps.
DEFAULT_FLEX_URL = "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService"
FLEX_VERSION = 3


@dataclass(frozen=True)
class FlexReference:
    """What SendRequest answers: the reference code to fetch, and where IBKR says to fetch it."""

    code: str
    url: str


class FlexClient:
    """Flex Web Service calls through a ``Transport`` (paced per token, retried, archived without the token)."""

    def __init__(
        self,
        transport: Transport,
        token: str,
        *,
        base_url: str = DEFAULT_FLEX_URL,
        auth: Authenticator | None = None,
        service: Service = FLEX,
        version: int = FLEX_VERSION,
    ) -> None:
        """Route Flex calls for ``token`` through ``transport`` (``service`` lets tests shorten the 1018 pause)."""
        self.transport = transport
        self.route: Route = transport.route(service, base_url, auth)
        self.version = version
        self._token = token

    def __repr__(self) -> str:
        return f"FlexClient({self.route.base_url!r}, token=***)"

    def request(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the Flex root) with the token added; the XML answer as text."""
        query = {FLEX_TOKEN_PARAM: self._token, **(params or {}), "v": self.version}
        return self.transport.send(self.route, "GET", path, params=query)

    def send_request(self, query_id: str) -> FlexReference:
        """Step 1: ask IBKR to generate the statement of a Flex query; its reference code and fetch URL."""
        text = self.request("/SendRequest", {"q": query_id})
        root = ET.fromstring(text)
        code = (root.findtext("ReferenceCode") or "").strip()
        if not code:
            raise FlexError("the Flex Web Service answered SendRequest without a reference code", endpoint="GET /SendRequest")
        return FlexReference(code=code, url=(root.findtext("Url") or "").strip())

    def get_statement(self, reference_code: str) -> str:
        """Step 2: the statement XML; raises ``NotReady`` while IBKR is still generating it (1019)."""
        # The statement is fetched from this client's address; SendRequest's <Url> names the same path
        # (§4.1), on a host that may differ (gdcdyn vs ndcdyn): following it is left to a later change.
        return self.request("/GetStatement", {"q": reference_code})
