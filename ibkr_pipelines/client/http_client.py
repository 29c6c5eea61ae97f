"""The IBKR Client Portal API client: paced, retried, session-aware; returns parsed JSON.

One request goes through: call-order priming -> pacer slot (shared limits, penalty box,
concurrency leases) -> HTTP -> classification. Transient failures (5xx, timeouts, resets,
truncated or malformed bodies) are retried with jittered backoff under a deadline; IBKR's nightly
``/iserver`` reset (5xx there) is waited out longer; 401 and ``no bridge`` re-establish the session
and retry once; 429 puts the scope in the penalty box for every thread and process, then waits.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping

import requests

from ibkr_pipelines.client.auth import AuthStrategy
from ibkr_pipelines.client.keepalive import Tickler
from ibkr_pipelines.client.limits import GLOBAL, Scope, endpoint_key
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.errors import (
    ApiErrorBody,
    IbkrError,
    NoBridge,
    NotAuthenticated,
    PacingViolation,
    TransientError,
)

log = logging.getLogger(__name__)

ResponseHook = Callable[[str, str, Mapping[str, Any] | None, int, bytes], None]

_PORTFOLIO_LISTS = ("/portfolio/accounts", "/portfolio/subaccounts", "/portfolio/subaccounts2")
# Session-management answers carry session ids: they are never handed to response hooks (raw archive).
_SESSION_PATHS = ("/tickle", "/iserver/auth/", "/iserver/reauthenticate", "/sso/", "/logout")
_NEEDS_ISERVER_ACCOUNTS = ("/iserver/marketdata/snapshot", "/iserver/account/orders")
_TRANSIENT_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, *, reset_window: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reset_window = reset_window


class _Recover(Exception):
    """Internal: the session (``401``) or brokerage tier (``no bridge``) must be re-established."""

    def __init__(self, error: IbkrError) -> None:
        super().__init__(str(error))
        self.error = error


class _Prime(Exception):
    """Internal: IBKR asked for a listing call first (call-order rule)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


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
        # Passed on every request: a Session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self._verify = verify
        self._http.headers.update({"User-Agent": "ibkr-pipelines", "Accept": "application/json"})
        auth.prepare(self._http)
        self._rng = random.Random(seed)
        self._hooks: list[ResponseHook] = []
        self._state_lock = threading.RLock()
        self._established = False
        self._primed: set[str] = set()
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
        """Open the session now and keep it alive until ``close``."""
        self._ensure_established()
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
        """Send one logical request with priming, pacing, retries and session recovery."""
        self._ensure_established()
        self._prime_for(path)
        try:
            return self._send(method, path, params=params, json=json, recover=True)
        except _Prime as prime:
            self._prime(prime.path, force=True)
            return self._send(method, path, params=params, json=json, recover=True)

    def call_unrecovered(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send a session-management request: paced and retried, but no recovery (used by auth)."""
        return self._send(method, path, params=None, json=json, recover=False)

    # -- session management -----------------------------------------------------------------

    def _ensure_established(self) -> None:
        if self._established:
            return
        with self._state_lock:
            if not self._established:
                self.auth.establish(self)
                self._established = True

    def _reestablish(self, cause: IbkrError) -> None:
        with self._state_lock:
            log.warning("IBKR session needs re-establishing (%s); re-opening it", cause.__class__.__name__)
            self.stats.note("session_recoveries")
            self._primed.clear()
            self._established = False
            self.auth.establish(self)
            self._established = True

    def _tickle(self) -> None:
        self.request("POST", "/tickle")

    def _prime_for(self, path: str) -> None:
        if path.startswith(("/portfolio/", "/portfolio2/")) and not path.startswith(_PORTFOLIO_LISTS):
            self._prime("/portfolio/accounts")
        elif path.startswith(_NEEDS_ISERVER_ACCOUNTS):
            self._prime("/iserver/accounts")

    def _prime(self, listing: str, *, force: bool = False) -> None:
        with self._state_lock:
            if listing in self._primed and not force:
                return
            self._send("GET", listing, params=None, json=None, recover=True)
            self._primed.add(listing)

    # -- one request, with retries ----------------------------------------------------------

    def _send(self, method: str, path: str, *, params: Any, json: Any, recover: bool) -> Any:
        endpoint = endpoint_key(method, path)
        scopes = self.limits.scopes_for(method, path)
        started = time.monotonic()
        attempt = 0
        recovered = False
        penalties = 0
        while True:
            try:
                return self._attempt(method, path, endpoint, scopes, params=params, json=json)
            except _Retry as failure:
                attempt += 1
                limit = self.retry.reset_window_seconds if failure.reset_window else self.retry.deadline_seconds
                elapsed = time.monotonic() - started
                if (attempt >= self.retry.max_attempts and not failure.reset_window) or elapsed >= limit:
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
                    raise needed.error from None
                recovered = True
                self._reestablish(needed.error)
            except PacingViolation as violation:
                penalties += 1
                if penalties > 2:
                    raise
                # the pacer now holds every sharer of this scope until the penalty ends; loop to wait there
                log.debug("re-sending %s once scope %s leaves the penalty box", endpoint, violation.scope)

    def _attempt(
        self, method: str, path: str, endpoint: str, scopes: list[Scope], *, params: Any, json: Any
    ) -> Any:
        with self.pacer.slot(scopes) as slot:
            self.stats.add(endpoint, requests=1, wait_seconds=slot.waited)
            try:
                response = self._http.request(
                    method, self.base_url + path, params=params, json=json, timeout=self.timeout, verify=self._verify
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
                raise _Retry(type(exc).__name__, reset_window=path.startswith("/iserver/")) from None
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
        body = _parse_json(content)
        error_text = _error_text(body)
        if status == 429:
            self._penalize(endpoint, scopes, response)
        if status == 401:
            self.stats.add(endpoint, errors=1)
            raise _Recover(NotAuthenticated("IBKR session is not authenticated", endpoint=endpoint, status=401))
        if "no bridge" in error_text.lower() and path.startswith("/iserver/"):
            self.stats.add(endpoint, errors=1)
            raise _Recover(NoBridge("IBKR brokerage session is missing (no bridge)", endpoint=endpoint, status=status))
        if "query /portfolio/accounts" in error_text or "query /accounts" in error_text:
            raise _Prime("/portfolio/accounts" if "portfolio" in error_text else "/iserver/accounts")
        if status >= 500:
            self.stats.add(endpoint, errors=1)
            raise _Retry(f"HTTP {status}", reset_window=path.startswith("/iserver/"))
        if status == 404 and path.startswith("/hmds/"):
            raise _Retry("first /hmds call answers 404 while the farm starts")
        if status >= 400:
            self.stats.add(endpoint, errors=1)
            raise ApiErrorBody(f"IBKR refused the request: {error_text or 'no error text'}", endpoint=endpoint, status=status)
        if body is _UNPARSEABLE:
            self.stats.add(endpoint, errors=1)
            raise _Retry("truncated or malformed JSON body")
        if error_text:
            self.stats.add(endpoint, errors=1)
            raise ApiErrorBody(f"IBKR answered 200 with an error: {error_text}", endpoint=endpoint, status=status)
        if path.startswith(_PORTFOLIO_LISTS) and method == "GET":
            self._primed.add("/portfolio/accounts")
        elif path == "/iserver/accounts":
            self._primed.add("/iserver/accounts")
        self._after_success(method, path, params, status, content)
        return body

    def _penalize(self, endpoint: str, scopes: list[Scope], response: requests.Response) -> None:
        scope = scopes[0].name if len(scopes) > 1 and self.limits.penalty_scope == "scope" else GLOBAL
        seconds = _retry_after(response) or self.limits.penalty_seconds
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


class _Unparseable:
    def __repr__(self) -> str:
        return "<unparseable>"


_UNPARSEABLE = _Unparseable()


def _parse_json(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError:
        return _UNPARSEABLE


def _error_text(body: Any) -> str:
    """The top-level ``error`` text of an IBKR answer ("" when there is none)."""
    if isinstance(body, dict):
        value = body.get("error")
        if isinstance(value, str) and value:
            return value
        if body.get("success") is False and isinstance(body.get("message"), str):
            return body["message"]
    return ""


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None

