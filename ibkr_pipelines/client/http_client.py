"""The IBKR Client Portal API client: paced, retried, session-aware; returns parsed JSON.

One request goes through: the session tiers and call-order listings it needs (``SessionKeeper``)
-> pacer slot (shared limits, penalty box, concurrency leases) -> HTTP -> classification. Transient
failures (5xx, timeouts, resets, truncated or malformed bodies) are retried with jittered backoff
under a deadline; IBKR's nightly ``/iserver`` reset (5xx there) is waited out longer; a 401, a
``no bridge`` or a call-order refusal is acted on once (see ``session_keeper``), then the request is
retried; 429 puts the scope in the penalty box for every thread and process, then waits.

Some failures are never retried, because waiting cannot cure them and the user should hear at once:
nothing listening at the address (after a few seconds), a web page or redirect where JSON should be
(a login page or a wrong base URL), TLS verification. And however a night goes, once IBKR has
answered nothing but failures for the outage budget (``RetryPolicy.outage_seconds``), every request
stops with one line.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import requests
import requests.adapters

from ibkr_pipelines.client import wire
from ibkr_pipelines.client.answers import (
    UNPARSEABLE,
    connection_failure,
    error_text,
    is_web_page,
    page_title,
    parse_json,
    retry_after_seconds,
)
from ibkr_pipelines.client.auth import AuthStrategy
from ibkr_pipelines.client.keepalive import Tickler
from ibkr_pipelines.client.limits import GLOBAL, Scope, endpoint_key
from ibkr_pipelines.client.jitter import JitterMeter
from ibkr_pipelines.client.pacer import Pacer, current_slot
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.session_keeper import SessionKeeper, account_in
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.errors import (
    AccountNotVisible,
    ApiErrorBody,
    GatewayUnreachable,
    IbkrError,
    IbkrUnavailable,
    NoBridge,
    NotAuthenticated,
    NotJsonAnswer,
    PacingViolation,
    TransientError,
)

log = logging.getLogger(__name__)

ResponseHook = Callable[[str, str, Mapping[str, Any] | None, int, bytes], None]

# Session-management answers carry session ids: they are never handed to response hooks (raw archive).
_SESSION_PATHS = ("/tickle", "/iserver/auth/", "/iserver/reauthenticate", "/sso/", "/logout")
# IBKR's call-order refusals ("Please query /accounts first"), at whatever status they come.
_CALL_ORDER = re.compile(r"query /(portfolio/)?accounts first", re.IGNORECASE)
_TRANSIENT_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, *, reset_window: bool = False, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reset_window = reset_window
        self.unreachable = unreachable


class _Recover(Exception):
    """Internal: the session (``401``) or brokerage tier (``no bridge``) must be re-established."""

    def __init__(self, error: IbkrError) -> None:
        super().__init__(str(error))
        self.error = error


class _Prime(Exception):
    """Internal: IBKR asked for a listing call first (call-order rule); carries IBKR's text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class GatedAdapter(requests.adapters.HTTPAdapter):
    """Passes the pacing gate right before a request is written to the socket, and times the round trip.

    The gate is where the penalty box is checked and the windows are asked, right before urllib3 takes
    over; its connections (``wire``) then record the request in the windows when its write returns
    (a busy machine can delay the write well past the gate). The round trip (send -> answer headers)
    feeds the jitter margin.
    """

    def __init__(self, meter: JitterMeter, stats: RunStats) -> None:
        super().__init__()
        self.meter = meter
        self.stats = stats

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The usual pool manager, with connections that report their writes to the pacer."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(wire.POOL_CLASSES)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Pass the calling thread's pacing gate, send, and record the send time and the round trip."""
        slot = current_slot()
        if slot is not None:
            slot.pass_gate()
        endpoint = endpoint_key(request.method or "GET", (request.path_url or "").split("?")[0])
        started = time.monotonic()
        self.stats.note_send(endpoint, started)
        try:
            response = super().send(request, **kwargs)
        finally:
            if slot is not None:
                slot.mark_sent()  # no-op when the connection marked it (a proxy's pools do not): later is safe
        self.meter.add(endpoint, time.monotonic() - started)
        return response


class IbkrClient:
    """A paced, retrying client for one IBKR username (``ApiClient`` for the extractors)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthStrategy,
        pacer: Pacer,
        verify: bool | str = True,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        retry: RetryPolicy | None = None,
        stats: RunStats | None = None,
        tickle_seconds: float = 60.0,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.root_url = self.base_url.rsplit("/v1/api", 1)[0] if "/v1/api" in self.base_url else self.base_url
        self.auth = auth
        self.pacer = pacer
        self.limits = pacer.limits
        self.retry = retry or RetryPolicy()
        self.stats = stats or RunStats()
        self.timeout = (connect_timeout_seconds, timeout_seconds)
        self._http = requests.Session()
        gated = GatedAdapter(pacer.meter, self.stats)
        self._http.mount("http://", gated)
        self._http.mount("https://", gated)
        # Passed on every request: a Session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._verify = verify
        self._http.headers.update({"User-Agent": "ibkr-pipelines", "Accept": "application/json"})
        auth.prepare(self._http)
        self._rng = random.Random(seed)
        self._hooks: list[ResponseHook] = []
        self._state_lock = threading.RLock()
        self.session = SessionKeeper(auth)
        self._failing_since: float | None = None  # monotonic start of the current run of failures
        self._tickler = Tickler(self._tickle, tickle_seconds)

    # -- public API -------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to ``/v1/api``); parsed JSON, or ``None`` for 204."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; parsed JSON, or ``None`` for 204."""
        return self.request("POST", path, params=params, json=json)

    def add_response_hook(self, hook: ResponseHook) -> None:
        """Call ``hook(method, path, params, status, body_bytes)`` for every successful answer (raw archive)."""
        self._hooks.append(hook)

    @contextmanager
    def recording(self, hook: ResponseHook) -> Iterator[None]:
        """Call ``hook`` for every successful answer while inside the block (one partition's archive)."""
        self._hooks.append(hook)
        try:
            yield
        finally:
            self._hooks.remove(hook)

    def start(self) -> "IbkrClient":
        """Open the read-only session now and keep it alive until ``close``."""
        self.session.ensure_session(self)
        self._tickler.start()
        return self

    def close(self) -> None:
        """Stop the keep-alive and close connections (the gateway login itself is left alone)."""
        self._tickler.stop()
        self._http.close()

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
        self.session.prepare(self, path)
        return self._send(method, path, params=params, json=json, recover=True)

    def call_unrecovered(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send a session-management request: paced and retried, but no recovery (used by auth)."""
        return self._send(method, path, params=None, json=json, recover=False)

    def send_listing(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a call-order listing (``/portfolio/accounts``...) without preparing for it again (session keeper)."""
        return self._send("GET", path, params=params, json=None, recover=True)

    # -- session management -----------------------------------------------------------------

    def _tickle(self) -> None:
        self.request("POST", "/tickle")

    # -- one request, with retries ----------------------------------------------------------

    def _send(self, method: str, path: str, *, params: Any, json: Any, recover: bool) -> Any:
        endpoint = endpoint_key(method, path)
        scopes = self.limits.scopes_for(method, path)
        started = time.monotonic()
        attempt = 0
        recovered = primed = False
        penalties = 0
        while True:
            try:
                answer = self._attempt(method, path, endpoint, scopes, params=params, json=json)
                self._failing_since = None
                return answer
            except _Retry as failure:
                attempt += 1
                elapsed = time.monotonic() - started
                limit = self._retry_budget(failure, endpoint, elapsed)
                if (attempt >= self.retry.max_attempts and not failure.reset_window) or elapsed >= limit:
                    if failure.unreachable:
                        raise GatewayUnreachable(
                            f"nothing answers at {self.root_url} ({failure.reason} for {elapsed:.0f} s): is the "
                            "Client Portal Gateway running there? (IBKR_BASE_URL; unset it to use the embedded simulator)",
                            endpoint=endpoint,
                        ) from None
                    raise TransientError(
                        f"gave up after {attempt} attempts in {elapsed:.0f} s: {failure.reason}", endpoint=endpoint
                    ) from None
                pause = self.retry.backoff(
                    min(attempt, 10), self._rng, cap=self.retry.reset_cap_seconds if failure.reset_window else None
                )
                self.stats.add(endpoint, retries=1)
                log.info("retrying %s in %.2f s after %s (attempt %d)", endpoint, pause, failure.reason, attempt)
                time.sleep(min(pause, max(0.0, limit - elapsed)))
            except _Recover as needed:
                if not recover or recovered:
                    raise self._unrecovered(needed.error, path) from None
                recovered = True
                if isinstance(needed.error, NoBridge):
                    self.session.after_no_bridge(self, path)
                else:
                    self.session.after_unauthorized(self, path)
            except _Prime as prime:
                if not recover or primed:
                    raise ApiErrorBody(
                        f"IBKR still asks for a listing first ({prime.text}) after it was made", endpoint=endpoint
                    ) from None
                primed = True
                self.session.after_call_order_refusal(self, path)
            except PacingViolation as violation:
                penalties += 1
                if penalties > 2:
                    raise
                # the pacer now holds every sharer of this scope until the penalty ends; loop to wait there
                log.debug("re-sending %s once scope %s leaves the penalty box", endpoint, violation.scope)

    @staticmethod
    def _unrecovered(error: IbkrError, path: str) -> IbkrError:
        """The error to raise when recovery did not help; a 401 on a listed account means the login cannot see it."""
        account = account_in(path)
        if isinstance(error, NotAuthenticated) and account is not None:
            return AccountNotVisible(
                f"IBKR refused account {account} (401) although the session is alive and the accounts were "
                "listed: this login cannot see it",
                endpoint=error.endpoint,
                status=401,
            )
        return error

    def _retry_budget(self, failure: _Retry, endpoint: str, elapsed: float) -> float:
        """Seconds (since this request began) it may keep retrying; raises once the outage budget is spent."""
        now = time.monotonic()
        with self._state_lock:
            if self._failing_since is None:
                self._failing_since = now
            failing_for = now - self._failing_since
        if failing_for >= self.retry.outage_seconds:
            raise IbkrUnavailable(
                f"IBKR has answered only failures for {failing_for / 60:.1f} min (last: {failure.reason}); giving up "
                f"until the next run (IBKR_OUTAGE_SECONDS={self.retry.outage_seconds:g})",
                endpoint=endpoint,
            )
        if failure.unreachable:
            budget = self.retry.unreachable_seconds
        elif failure.reset_window:
            budget = self.retry.reset_window_seconds
        else:
            budget = self.retry.deadline_seconds
        return min(budget, elapsed + self.retry.outage_seconds - failing_for)

    def _attempt(
        self, method: str, path: str, endpoint: str, scopes: list[Scope], *, params: Any, json: Any
    ) -> Any:
        with self.pacer.slot(scopes, gate=False) as slot:  # GatedAdapter passes the gate at the socket
            waited_before_send = slot.waited
            self.stats.add(endpoint, requests=1, wait_seconds=waited_before_send)
            try:
                response = self._http.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    timeout=self.timeout,
                    verify=self._verify,
                    allow_redirects=False,  # a redirect means a login page or a wrong URL, never data
                )
                content = response.content
            except requests.exceptions.SSLError:
                raise IbkrError(
                    f"TLS verification failed for {self.root_url}: set IBKR_CA_BUNDLE to the gateway's certificate "
                    "(or IBKR_VERIFY_TLS=false for a gateway on localhost)",
                    endpoint=endpoint,
                ) from None
            except _TRANSIENT_EXCEPTIONS as exc:
                if any(s.concurrency for s in scopes):
                    slot.hold_leases_after_exit(self.timeout[1])
                self.stats.add(endpoint, errors=1)
                kind = connection_failure(exc)
                if kind == "unresolvable":
                    raise GatewayUnreachable(
                        f"cannot resolve the host of {self.root_url} (IBKR_BASE_URL): check the name", endpoint=endpoint
                    ) from None
                if kind == "refused":
                    raise _Retry("connection refused", unreachable=True) from None
                if kind == "no_answer":
                    raise _Retry(f"no answer within {self.timeout[0]:g} s", unreachable=True) from None
                raise _Retry(type(exc).__name__, reset_window=path.startswith("/iserver/")) from None
            finally:
                if slot.waited > waited_before_send:  # the gate at the socket held it back as well
                    self.stats.add(endpoint, wait_seconds=slot.waited - waited_before_send)
        self.stats.add(endpoint, bytes=len(content))
        return self._classify(method, path, endpoint, scopes, params, response, content)

    def _classify(
        self,
        method: str,
        path: str,
        endpoint: str,
        scopes: list[Scope],
        params: Any,
        response: requests.Response,
        content: bytes,
    ) -> Any:
        status = response.status_code
        if status == 204:
            self._after_success(method, path, params, status, content)
            return None
        if 300 <= status < 400:
            self.stats.add(endpoint, errors=1)
            where = response.headers.get("Location", "elsewhere").split("?")[0]
            raise NotJsonAnswer(
                f"{self.root_url} redirected the request to {where}: a login page or a wrong IBKR_BASE_URL "
                "(it should end in /v1/api)",
                endpoint=endpoint,
                status=status,
            )
        if status < 500 and status not in (401, 429) and is_web_page(response, content):
            self.stats.add(endpoint, errors=1)
            title = page_title(content)
            raise NotJsonAnswer(
                f"{self.root_url} answered a web page{f' ({title!r})' if title else ''} instead of IBKR's JSON: "
                "probably a login page or a wrong IBKR_BASE_URL (it should end in /v1/api)",
                endpoint=endpoint,
                status=status,
            )
        body = parse_json(content)
        text = error_text(body)
        if status == 429:
            self._penalize(endpoint, scopes, response)
        if status == 401:
            self.stats.add(endpoint, errors=1)
            raise _Recover(NotAuthenticated("IBKR session is not authenticated", endpoint=endpoint, status=401))
        if "no bridge" in text.lower() and path.startswith("/iserver/"):
            self.stats.add(endpoint, errors=1)
            raise _Recover(NoBridge("IBKR brokerage session is missing (no bridge)", endpoint=endpoint, status=status))
        if _CALL_ORDER.search(text):
            raise _Prime(text)
        if status >= 500:
            self.stats.add(endpoint, errors=1)
            raise _Retry(f"HTTP {status}", reset_window=path.startswith("/iserver/"))
        if status == 404 and path.startswith("/hmds/"):
            raise _Retry("first /hmds call answers 404 while the farm starts")
        if status >= 400:
            self.stats.add(endpoint, errors=1)
            raise ApiErrorBody(
                f"IBKR refused the request: {text or 'no error text'}", endpoint=endpoint, status=status, text=text
            )
        if body is UNPARSEABLE:
            self.stats.add(endpoint, errors=1)
            raise _Retry("truncated or malformed JSON body")
        if text:
            self.stats.add(endpoint, errors=1)
            raise ApiErrorBody(f"IBKR answered 200 with an error: {text}", endpoint=endpoint, status=status, text=text)
        self.session.note_answer(method, path, body)
        self._after_success(method, path, params, status, content)
        return body

    def _penalize(self, endpoint: str, scopes: list[Scope], response: requests.Response) -> None:
        scope = scopes[0].name if len(scopes) > 1 and self.limits.penalty_scope == "scope" else GLOBAL
        seconds = retry_after_seconds(response) or self.limits.penalty_seconds
        penalty = self.pacer.penalize(scope, seconds, reason=endpoint)
        self.stats.add(endpoint, throttled=1)
        self.stats.note_penalty(endpoint, penalty.scopes, seconds)
        log.warning(
            "IBKR answered 429 on %s: scope(s) %s paused for %.0f s in every thread and process (IBKR penalty box)",
            endpoint,
            ", ".join(penalty.scopes),
            seconds,
        )
        raise PacingViolation(
            f"429 on {endpoint}", endpoint=endpoint, scope=scope, until_epoch=time.time() + seconds
        )

    def _after_success(self, method: str, path: str, params: Any, status: int, content: bytes) -> None:
        if path.startswith(_SESSION_PATHS):
            return
        for hook in self._hooks:
            hook(method, path, params, status, content)
