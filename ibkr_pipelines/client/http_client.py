"""The IBKR Client Portal API client: paced, retried, session-aware; returns parsed JSON.

One request goes through: the session tiers and call-order listings it needs (``SessionKeeper``,
from the endpoint table) -> the shared ``Transport`` (pacer slot, signed HTTP, Client Portal's rules
in ``cp_rules``, retries, penalty box). A 401, a ``no bridge`` or a call-order refusal is acted on
once by the session keeper, then the request is retried. Nothing listening, a web page where JSON
should be, TLS verification fail at once; an outage longer than ``RetryPolicy.outage_seconds`` stops
every request with one line.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

from ibkr_pipelines.client.am_client import AccountManagementClient
from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.endpoints import account_in
from ibkr_pipelines.client.flex_client import DEFAULT_FLEX_URL, FlexAccess, FlexClient
from ibkr_pipelines.client.keepalive import Tickler
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.services import ACCOUNT_MANAGEMENT, CLIENT_PORTAL, Service
from ibkr_pipelines.client.session_keeper import SessionKeeper
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.client.transport import Body, GatedAdapter, ResponseHook, Route, Transport
from ibkr_pipelines.errors import AccountNotVisible, IbkrError, NoBridge, NotAuthenticated

__all__ = ["GatedAdapter", "IbkrClient", "ResponseHook"]


class _ClientPortalSession:
    """The transport's ``SessionHandler`` for Client Portal: the session keeper acting for one client."""

    def __init__(self, client: "IbkrClient") -> None:
        self.client = client

    def note_answer(self, method: str, path: str, body: Any) -> None:
        """Listings are remembered."""
        self.client.session.note_answer(method, path, body)

    def recover(self, error: IbkrError, path: str) -> None:
        """``no bridge`` re-opens the brokerage tier; a 401 checks the session and lists again."""
        if isinstance(error, NoBridge):
            self.client.session.after_no_bridge(self.client, path)
        else:
            self.client.session.after_unauthorized(self.client, path)

    def reprime(self, path: str, method: str) -> None:
        """"Please query /accounts first": list again."""
        self.client.session.after_call_order_refusal(self.client, path, method)

    def unrecovered(self, error: IbkrError, path: str) -> IbkrError:
        """A 401 on a listed account of a live session means this login cannot see the account."""
        account = account_in(path)
        if isinstance(error, NotAuthenticated) and account is not None:
            return AccountNotVisible(
                f"IBKR refused account {account} (401) although the session is alive and the accounts were "
                "listed: this login cannot see it",
                endpoint=error.endpoint,
                status=401,
            )
        return error


class IbkrClient:
    """A paced, retrying client for one IBKR username (``ApiClient`` for the extractors)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Authenticator,
        pacer: Pacer,
        verify: bool | str = True,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        retry: RetryPolicy | None = None,
        stats: RunStats | None = None,
        tickle_seconds: float = 60.0,
        seed: int | None = None,
        verdict_group: str | None = None,
    ) -> None:
        self.transport = Transport(
            pacer=pacer,
            verify=verify,
            timeout_seconds=timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
            retry=retry,
            stats=stats,
            seed=seed,
            verdict_group=verdict_group,
        )
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.pacer = pacer
        self.limits = pacer.limits
        self.timeout = self.transport.timeout
        self._http = self.transport.http
        self.session = SessionKeeper(auth)
        self.route: Route = self.transport.route(CLIENT_PORTAL, self.base_url, auth, _ClientPortalSession(self))
        self.root_url = self.route.root_url
        self._tickler = Tickler(self._tickle, tickle_seconds)
        # The Flex Web Service this login's settings name, or the embedded simulator's (connection.py).
        self.flex_access: FlexAccess | None = None
        # Makes the Account Management signer when it is not this login's own (the embedded simulator's,
        # connection.py); called on first use, so a run that never asks pays nothing.
        self.account_management_login: Callable[[], Authenticator] | None = None

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of the transport (settable, as tests and benchmarks do)."""
        return self.transport.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        """Replace the retry policy for every later request."""
        self.transport.retry = policy

    @property
    def stats(self) -> RunStats:
        """The run's counters (shared by every service on this transport)."""
        return self.transport.stats

    # -- public API -------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/v1/api``); parsed JSON, or ``None`` for 204."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; parsed JSON, or ``None`` for 204."""
        return self.request("POST", path, params=params, json=json)

    def add_response_hook(self, hook: ResponseHook) -> None:
        """Call ``hook(method, path, params, body, status, content)`` for every successful answer (raw archive).

        ``params`` and ``body`` (the JSON sent) come without secret parameters; session answers never come.
        """
        self.transport.hooks.append(hook)

    @contextmanager
    def recording(self, hook: ResponseHook) -> Iterator[None]:
        """Call ``hook`` for every successful answer while inside the block (one partition's archive)."""
        with self.transport.recording(hook):
            yield

    def start(self) -> "IbkrClient":
        """Open the read-only session now and keep it alive until ``close``."""
        self.session.ensure_session(self)
        self._tickler.start()
        return self

    def close(self) -> None:
        """Stop the keep-alive and close connections (the gateway login itself is left alone)."""
        self._tickler.stop()
        self.transport.close()

    def __enter__(self) -> "IbkrClient":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one logical request with the session tiers and listings it needs, pacing, retries and recovery."""
        self.session.prepare(self, path, method)
        return self.transport.send(self.route, method, path, params=params, json=json, recover=True)

    def call_unrecovered(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send a session-management request: paced and retried, but no recovery (used by auth)."""
        return self.transport.send(self.route, method, path, params=None, json=json, recover=False)

    def call_service(
        self, service: Service, method: str, path: str, *, auth: Authenticator | None = None, body: Body | None = None
    ) -> Any:
        """Send a session-management request to ``service`` on this client's host (OAuth 2.0), never recovered."""
        route = self.transport.route(service, self.root_url + service.root, auth)
        return self.transport.send(route, method, path, body=body, recover=False)

    def send_listing(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a call-order listing (``/portfolio/accounts``...) without preparing for it again (session keeper)."""
        return self.transport.send(self.route, "GET", path, params=params, json=None, recover=True)

    def flex(self, token: str, *, base_url: str = DEFAULT_FLEX_URL) -> FlexClient:
        """A Flex Web Service client sharing this client's transport (pacing store, counters, response hooks)."""
        return FlexClient(self.transport, token, base_url=base_url)

    def has_account_management(self) -> bool:
        """True when this login can sign Account Management requests: OAuth 2.0's access token, or the embedded
        simulator's own login (a gateway or OAuth 1.0a login has none, reference §3.1)."""
        return self.account_management_login is not None or callable(getattr(self.auth, "for_account_management", None))

    def account_management(
        self, auth: Authenticator | None = None, *, base_url: str | None = None
    ) -> AccountManagementClient:
        """An Account Management client sharing this client's transport and host, signed with this login's token.

        By default it takes this login's OAuth 2.0 access token (``for_account_management``), renewed as
        it is for the Client Portal; other logins have none, and IBKR refuses them in one line.
        """
        own = getattr(self.auth, "for_account_management", None)
        if auth is None and self.account_management_login is not None:
            auth = self.account_management_login()
        signer = auth or (own() if callable(own) else self.auth)
        return AccountManagementClient(self.transport, auth=signer, base_url=base_url or self.root_url + ACCOUNT_MANAGEMENT.root,
                                       caller=self)

    # -- session management -----------------------------------------------------------------

    def _tickle(self) -> None:
        self.request("POST", "/tickle")
