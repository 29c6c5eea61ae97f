"""A thin Flex Web Service client on the shared transport: SendRequest, then GetStatement (reference §4.1).

The token travels as the ``t`` query parameter, as IBKR requires; the transport strips it from what
response hooks see and redacts it from request logs, and this class never shows it in a message or a
``repr``. ``get_statement`` raises ``NotReady`` (code 1019 and the other "not ready" codes of §4.2);
``fetch_statement`` does both steps and polls with a growing pause up to a bound.
"""

from __future__ import annotations

import datetime
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.endpoints import FLEX_TOKEN_PARAM
from ibkr_pipelines.client.services import FLEX, Service
from ibkr_pipelines.client.transport import Route, Transport
from ibkr_pipelines.errors import FlexError, NotReady

# §4.1: the current host and path of both steps.
DEFAULT_FLEX_URL = "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService"
FLEX_VERSION = 3
IBKR_HOST_SUFFIX = ".interactivebrokers.com"  # §4.1: the hosts SendRequest's <Url> names
MAX_SPAN_DAYS = 365  # guess: the longest fd..td range one SendRequest serves (the simulator's guess agrees)
POLL_FIRST_SECONDS = 5.0  # §4.1: ibflex waits 5 s on 1019
POLL_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class FlexAccess:
    """Where and with what a login reaches the Flex Web Service: root URL, token (never shown), query ids."""

    url: str
    token: str = field(repr=False)
    query_ids: tuple[str, ...]
    max_span_days: int | None = MAX_SPAN_DAYS  # the longest fd..td range one request serves (None: whole window)


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

    def send_request(
        self, query_id: str, *, from_date: datetime.date | None = None, to_date: datetime.date | None = None
    ) -> FlexReference:
        """Step 1: ask IBKR to generate the statement of a Flex query (optionally for ``from_date``..``to_date``).

        Its reference code and fetch URL. ``fd``/``td`` override the query's period: not in the reference
        (guess: IBKR's newer Flex documentation is reported to offer them); without dates the query's own
        period is served.
        """
        params: dict[str, Any] = {"q": query_id}
        if from_date is not None and to_date is not None:
            params.update(fd=from_date.strftime("%Y%m%d"), td=to_date.strftime("%Y%m%d"))
        return _reference(self.request("/SendRequest", params))

    def get_statement(self, reference_code: str, *, url: str = "") -> str:
        """Step 2: the statement XML; raises ``NotReady`` while IBKR is still generating it (1019).

        ``url`` is SendRequest's ``<Url>``: followed when it is this service's GetStatement on this host or
        on an IBKR host (§4.1: gdcdyn and ndcdyn both appear), never elsewhere, since the token travels with it.
        """
        route = self._route_for(url)
        query = {FLEX_TOKEN_PARAM: self._token, "q": reference_code, "v": self.version}
        return self.transport.send(route, "GET", "/GetStatement", params=query)

    def _route_for(self, url: str) -> Route:
        """The route of SendRequest's ``<Url>`` when it may be trusted with the token, else this client's."""
        parts = urlsplit(url)
        root = parts.path.removesuffix("/GetStatement")
        here = urlsplit(self.route.base_url)
        trusted = parts.hostname == here.hostname or (parts.hostname or "").endswith(IBKR_HOST_SUFFIX)
        if not url or not parts.path.endswith("/GetStatement") or not trusted or parts.scheme not in ("https", here.scheme):
            return self.route
        base = f"{parts.scheme}://{parts.netloc}{root}"
        return self.route if base == self.route.base_url else self.transport.route(self.route.service, base, self.route.auth)

    def fetch_statement(
        self,
        query_id: str,
        *,
        from_date: datetime.date | None = None,
        to_date: datetime.date | None = None,
        max_wait_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> str:
        """Both steps: the statement of ``query_id`` (optionally for ``from_date``..``to_date``), polled until ready.

        GetStatement is asked again while IBKR says 1019 (and the other "not yet" codes), 5 s after
        the first ask and growing to 30 s, as ibflex waits 5 s (§4.1); past ``max_wait_seconds`` the
        ``NotReady`` is raised with a line saying so. The per-token limit (1/s, 10/min) is the pacer's.
        The dates are ``send_request``'s.
        """
        reference = self.send_request(query_id, from_date=from_date, to_date=to_date)
        waited, pause = 0.0, POLL_FIRST_SECONDS
        while True:
            try:
                return self.get_statement(reference.code, url=reference.url)
            except NotReady as not_yet:
                if waited + pause > max_wait_seconds:
                    raise NotReady(
                        f"the Flex statement of query {query_id} is still being generated after {waited:.0f} s "
                        f"({not_yet.code}): run it again later", endpoint=not_yet.endpoint, code=not_yet.code,
                    ) from None
                sleep(pause)
                waited += pause
                pause = min(pause * 2, POLL_MAX_SECONDS)


def _reference(text: str) -> FlexReference:
    """The reference code and URL of a SendRequest answer."""
    root = ET.fromstring(text)
    code = (root.findtext("ReferenceCode") or "").strip()
    if not code:
        raise FlexError("the Flex Web Service answered SendRequest without a reference code", endpoint="GET /SendRequest")
    return FlexReference(code=code, url=(root.findtext("Url") or "").strip())
