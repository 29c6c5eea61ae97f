"""The paced transport every IBKR service goes through: pacer slot -> signed HTTP -> classification -> retries.

One ``Transport`` holds the HTTP connections, the pacer, the retry policy, the counters and the
response hooks; a ``Route`` says which service at which address, signed by which authenticator. What
an answer means is the service's business (``services.py``); what the transport does with it is the
same everywhere:

- transient failures (5xx, timeouts, resets, truncated bodies) are retried with jittered backoff under
  a deadline; a service may say a failure can be IBKR's nightly reset and be waited out longer;
- a 429 puts the request's scope in the penalty box for every thread and process, then waits;
- a lost session or a missing listing is handed to the route's ``SessionHandler`` once, then retried;
- nothing listening, a web page where data should be, TLS verification: said at once, in one line;
- once a service has answered nothing but failures for the outage budget, every request stops.

Response hooks (the raw archive) get every successful answer except session answers, with the
service's and the endpoint's secret parameters removed from the query and the body, and a document's
base64 bytes (an endpoint row's ``document_fields``) replaced by their sha256 and size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json as json_text  # ``json`` names the JSON body parameter throughout
import logging
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Protocol

import requests
import requests.adapters

from ibkr_pipelines.client import wire
from requests.auth import AuthBase

from ibkr_pipelines.client.answers import UNPARSEABLE, connection_failure, parse_json, retry_after_seconds
from ibkr_pipelines.client.auth import Authenticator, NoAuth
from ibkr_pipelines.client.endpoints import Endpoint
from ibkr_pipelines.client.jitter import JitterMeter
from ibkr_pipelines.client.limits import GLOBAL, Scope, endpoint_key
from ibkr_pipelines.client.pacer import Pacer, current_slot
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.client.services import Service
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.client.verdicts import FAIL, OK, PRIME, RECOVER, RETRY, THROTTLE, Answer, Verdict
from ibkr_pipelines.errors import (
    ApiErrorBody,
    GatewayUnreachable,
    IbkrError,
    IbkrUnavailable,
    PacingViolation,
    TransientError,
)

log = logging.getLogger(__name__)

# hook(method, path, params, body, status, content): params and body with secrets removed.
ResponseHook = Callable[[str, str, Mapping[str, Any] | None, Any, int, bytes], None]

_TRANSIENT_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_REDACTED = "***"


class SessionHandler(Protocol):
    """What a route's session keeper does when an answer says the session or a listing is missing."""

    def note_answer(self, method: str, path: str, body: Any) -> None:
        """See a successful answer (listings are remembered)."""
        ...

    def recover(self, error: IbkrError, path: str) -> None:
        """Re-establish what ``error`` says is gone (401: the session; no bridge: the brokerage tier)."""
        ...

    def reprime(self, path: str, method: str) -> None:
        """IBKR asked for a listing first: make it again."""
        ...

    def unrecovered(self, error: IbkrError, path: str) -> IbkrError:
        """The error to raise when recovery is not allowed or did not help."""
        ...


@dataclass(frozen=True)
class Route:
    """One service at one address, signed by one authenticator, with its session handler (or none)."""

    service: Service
    base_url: str
    auth: Authenticator
    session: SessionHandler | None = None

    @property
    def root_url(self) -> str:
        """The address without the service's root path (what a user configured, for messages)."""
        base = self.base_url.rstrip("/")
        return base.rsplit(self.service.root, 1)[0] if self.service.root in base else base


# -- secrets --------------------------------------------------------------------------------------


def without_secrets(value: Any, secrets: frozenset[str]) -> Any:
    """``value`` (query params or a JSON body) with every key named in ``secrets`` removed, at any depth."""
    if not secrets:
        return value
    if isinstance(value, Mapping):
        return {k: without_secrets(v, secrets) for k, v in value.items() if str(k).lower() not in secrets}
    if isinstance(value, list):
        return [without_secrets(v, secrets) for v in value]
    return value


def answer_without_secrets(content: bytes, fields: frozenset[str]) -> bytes:
    """A JSON answer without the keys named exactly ``fields`` (a session id beside the data), for hooks."""
    return _rewritten(content, fields, _without_keys)


def answer_with_digests(content: bytes, fields: frozenset[str]) -> bytes:
    """A JSON answer whose document fields (base64 bytes, e.g. a statement's PDF) are replaced by their digest, for hooks.

    The digest is ``{"omitted": ..., "sha256": ..., "bytes": ...}`` of the decoded bytes as sent (of the text
    when it is not base64), so an archived answer still says which document it carried without holding it.
    """
    return _rewritten(content, fields, _digested)


def _rewritten(content: bytes, fields: frozenset[str], rewrite: Callable[[Any, frozenset[str]], Any]) -> bytes:
    """A JSON answer passed through ``rewrite`` when it names one of ``fields`` (else, or unparseable, as it came)."""
    if not fields or not any(f.encode() in content for f in fields):
        return content
    body = parse_json(content)
    if body is UNPARSEABLE:
        return content
    return json_text.dumps(rewrite(body, fields), separators=(",", ":")).encode()


def _digested(value: Any, keys: frozenset[str]) -> Any:
    """``value`` with the string values of ``keys`` (at any depth) replaced by their digest."""
    if isinstance(value, Mapping):
        return {k: _digest(v) if k in keys and isinstance(v, str) else _digested(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_digested(v, keys) for v in value]
    return value


def _digest(text: str) -> dict[str, Any]:
    """The digest standing for one base64 document in what hooks see."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = text.encode("utf-8")
    return {"omitted": "document bytes (kept as a file, not archived)", "sha256": hashlib.sha256(raw).hexdigest(),
            "bytes": len(raw)}


def _without_keys(value: Any, keys: frozenset[str]) -> Any:
    """``value`` without the keys spelled exactly as in ``keys``, at any depth."""
    if isinstance(value, Mapping):
        return {k: _without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without_keys(v, keys) for v in value]
    return value


def redact_query(text: str, secrets: frozenset[str]) -> str:
    """``text`` with the values of secret query parameters replaced (``?t=abc`` -> ``?t=***``)."""
    if not secrets:
        return text
    names = "|".join(re.escape(s) for s in sorted(secrets))
    return re.sub(rf"([?&](?:{names})=)[^&\s\"']*", rf"\g<1>{_REDACTED}", text, flags=re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Rewrites log records that would show a secret query parameter (urllib3 logs every URL at DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, secrets: frozenset[str]) -> None:
        """Also redact these parameter names."""
        with self._lock:
            self._secrets = self._secrets | {s.lower() for s in secrets}

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace secret values in the formatted message; never drops a record."""
        secrets = self._secrets
        if secrets:
            message = record.getMessage()
            cleaned = redact_query(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


REDACTOR = RedactingFilter()
# The loggers that write request URLs: urllib3's connection pool (DEBUG) and requests itself.
for _name in ("urllib3.connectionpool", "urllib3", "requests"):
    logging.getLogger(_name).addFilter(REDACTOR)


# -- signing at the socket ------------------------------------------------------------------------

_pending = threading.local()  # the signer of the request this thread is sending


@contextmanager
def _signing(signer: AuthBase | None) -> Iterator[None]:
    _pending.signer = signer
    try:
        yield
    finally:
        _pending.signer = None


class GatedAdapter(requests.adapters.HTTPAdapter):
    """Passes the pacing gate right before a request is written to the socket, signs it, and times the round trip.

    The gate is where the penalty box is checked and the windows are asked, right before urllib3
    takes over; its connections (``wire``) then record the request in the windows when its write
    returns (a busy machine can delay the write well past the gate). Signing comes after the gate,
    so a wait in the penalty box can never age a signature's timestamp (OAuth 1.0a, reference §1.3).
    The round trip (send -> answer headers) feeds the jitter margin.
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
        """Pass the calling thread's pacing gate, sign, send, and record the send time and the round trip."""
        slot = current_slot()
        if slot is not None:
            slot.pass_gate()
        signer = getattr(_pending, "signer", None)
        if signer is not None:
            request = signer(request)
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


# -- the transport --------------------------------------------------------------------------------


# How long a "nothing answers" verdict stands for the other requests of this transport (a run's
# other datasets fail with the same line at once; a later run, or a request after this, tries again).
UNREACHABLE_MEMORY_SECONDS = 60.0


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(
        self, reason: str, *, reset_window: bool = False, unreachable: bool = False, pause_floor: float = 0.0
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reset_window = reset_window
        self.unreachable = unreachable
        self.pause_floor = pause_floor


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


@dataclass(frozen=True)
class Body:
    """A request body that is not JSON: the bytes or form fields, and their media type."""

    data: bytes | Mapping[str, str]
    content_type: str


class Transport:
    """Paced, retried, classified HTTP for every IBKR service, sharing one pacer, counters and hooks."""

    def __init__(
        self,
        *,
        pacer: Pacer,
        verify: bool | str = True,
        timeout_seconds: float = 30.0,
        connect_timeout_seconds: float = 5.0,
        retry: RetryPolicy | None = None,
        stats: RunStats | None = None,
        seed: int | None = None,
        verdict_group: str | None = None,
    ) -> None:
        """Open the HTTP session (gated at the socket) shared by every route.

        ``verdict_group`` names the transports that share a "nothing answers" verdict through the
        pacing store (a run's step processes pass its run id); by default only this transport.
        """
        self.pacer = pacer
        self.limits = pacer.limits
        self.retry = retry or RetryPolicy()
        self.stats = stats or RunStats()
        self.timeout = (connect_timeout_seconds, timeout_seconds)
        self.http = requests.Session()
        gated = GatedAdapter(pacer.meter, self.stats)
        self.http.mount("http://", gated)
        self.http.mount("https://", gated)
        # Passed on every request: a Session-level `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = verify
        self.http.headers.update({"User-Agent": "ibkr-pipelines", "Accept": "application/json"})
        self.rng = random.Random(seed)
        self.hooks: list[ResponseHook] = []
        self._state_lock = threading.RLock()
        self._failing_since: dict[str, float] = {}  # per service: monotonic start of the current run of failures
        self.verdict_group = verdict_group or f"transport-{uuid.uuid4().hex}"

    def route(self, service: Service, base_url: str, auth: Authenticator | None = None, session: SessionHandler | None = None) -> Route:
        """A route to ``service`` at ``base_url``; its secret parameters are redacted from logs from now on."""
        REDACTOR.add(service.secret_params | {p for r in service.endpoints.rows for p in r.secret_params})
        return Route(service=service, base_url=base_url.rstrip("/"), auth=auth or NoAuth(), session=session)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    @contextmanager
    def recording(self, hook: ResponseHook) -> Iterator[None]:
        """Call ``hook`` for every successful answer while inside the block."""
        self.hooks.append(hook)
        try:
            yield
        finally:
            self.hooks.remove(hook)

    # -- one logical request ----------------------------------------------------------------------

    def send(
        self,
        route: Route,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        body: Body | None = None,
        recover: bool = True,
    ) -> Any:
        """Send one request with pacing, retries, recovery (when allowed) and the endpoint's re-reads.

        ``json`` is a JSON body; ``body`` any other (a form, or a JWS as ``application/jwt``: OAuth 2.0).
        """
        row = route.service.endpoints.lookup(method, path)
        answer = self._send(route, row, method, path, params=params, json=json, body=body, recover=recover)
        rereads = 0
        while row.incomplete is not None and rereads < row.rereads and row.incomplete(answer):
            rereads += 1
            self.stats.note("cold_read_retries")
            log.info("%s came back incomplete; reading it again (%d)", route.service.endpoint_key(method, path), rereads)
            answer = self._send(route, row, method, path, params=params, json=json, body=body, recover=recover)
        return answer

    def _send(
        self, route: Route, row: Endpoint, method: str, path: str, *, params: Any, json: Any, body: Body | None,
        recover: bool,
    ) -> Any:
        service = route.service
        endpoint = service.endpoint_key(method, path)
        scopes = service.scopes(self.limits, row, method, path)
        started = time.monotonic()
        # A "nothing answers" verdict given by this or any process sharing the pacing store: the
        # run's other datasets (other step processes too) say the same line at once.
        said = self.pacer.unreachable(service.name, self.verdict_group, UNREACHABLE_MEMORY_SECONDS)
        if said is not None:
            raise GatewayUnreachable(said, endpoint=endpoint)
        attempt = 0
        recovered = primed = False
        penalties = 0
        while True:
            try:
                answer = self._attempt(route, row, method, path, endpoint, scopes, params=params, json=json, body=body)
                with self._state_lock:
                    self._failing_since.pop(service.name, None)
                self.pacer.clear_unreachable(service.name)
                return answer
            except _Retry as failure:
                attempt += 1
                elapsed = time.monotonic() - started
                limit = self._retry_budget(service, failure, endpoint, elapsed)
                if (attempt >= self.retry.max_attempts and not failure.reset_window) or elapsed >= limit:
                    if failure.unreachable:
                        line = (
                            f"nothing answers at {route.root_url} ({failure.reason} for {elapsed:.0f} s): "
                            f"{service.unreachable_hint}"
                        )
                        self.pacer.note_unreachable(service.name, self.verdict_group, line)
                        raise GatewayUnreachable(line, endpoint=endpoint) from None
                    raise TransientError(
                        f"gave up after {attempt} attempts in {elapsed:.0f} s: {failure.reason}", endpoint=endpoint
                    ) from None
                pause = self.retry.backoff(
                    min(attempt, 10), self.rng, cap=self.retry.reset_cap_seconds if failure.reset_window else None
                )
                pause = max(pause, failure.pause_floor)
                self.stats.add(endpoint, retries=1)
                log.info("retrying %s in %.2f s after %s (attempt %d)", endpoint, pause, failure.reason, attempt)
                time.sleep(min(pause, max(0.0, limit - elapsed)))
            except _Recover as needed:
                if route.session is None:
                    raise needed.error from None
                if not recover or recovered:
                    raise route.session.unrecovered(needed.error, path) from None
                recovered = True
                route.session.recover(needed.error, path)
            except _Prime as prime:
                if route.session is None or not recover or primed:
                    raise ApiErrorBody(
                        f"IBKR still asks for a listing first ({prime.text}) after it was made", endpoint=endpoint
                    ) from None
                primed = True
                route.session.reprime(path, method)
            except PacingViolation as violation:
                penalties += 1
                if penalties > 2:
                    raise
                # the pacer now holds every sharer of this scope until the penalty ends; loop to wait there
                log.debug("re-sending %s once scope %s leaves the penalty box", endpoint, violation.scope)

    def _retry_budget(self, service: Service, failure: _Retry, endpoint: str, elapsed: float) -> float:
        """Seconds (since this request began) it may keep retrying; raises once the outage budget is spent."""
        now = time.monotonic()
        with self._state_lock:
            since = self._failing_since.setdefault(service.name, now)
            failing_for = now - since
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
        self,
        route: Route,
        row: Endpoint,
        method: str,
        path: str,
        endpoint: str,
        scopes: list[Scope],
        *,
        params: Any,
        json: Any,
        body: Body | None = None,
    ) -> Any:
        service = route.service
        headers = {"Accept": service.accept}
        if body is not None:
            headers["Content-Type"] = body.content_type
        with self.pacer.slot(scopes, gate=False) as slot, _signing(route.auth.signer()):
            # GatedAdapter passes the gate and signs at the socket
            waited_before_send = slot.waited
            self.stats.add(endpoint, requests=1, wait_seconds=waited_before_send)
            try:
                response = self.http.request(
                    method,
                    route.base_url + path,
                    params=params,
                    json=json,
                    data=None if body is None else body.data,
                    headers=headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    allow_redirects=False,  # a redirect means a login page or a wrong URL, never data
                )
                content = response.content
            except requests.exceptions.SSLError:
                raise IbkrError(
                    f"TLS verification failed for {route.root_url}: set IBKR_CA_BUNDLE to the gateway's certificate "
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
                        f"cannot resolve the host of {route.root_url} ({service.url_setting}): check the name",
                        endpoint=endpoint,
                    ) from None
                if kind == "refused":
                    raise _Retry("connection refused", unreachable=True) from None
                if kind == "no_answer":
                    raise _Retry(f"no answer within {self.timeout[0]:g} s", unreachable=True) from None
                raise _Retry(type(exc).__name__, reset_window=service.reset_window(path)) from None
            finally:
                if slot.waited > waited_before_send:  # the gate at the socket held it back as well
                    self.stats.add(endpoint, wait_seconds=slot.waited - waited_before_send)
        self.stats.add(endpoint, bytes=len(content))
        answer = Answer(
            method=method,
            path=path,
            endpoint=endpoint,
            row=row,
            status=response.status_code,
            headers=response.headers,
            content=content,
            where=route.root_url,
        )
        # What a response hook may see of the body: the JSON, or a form's fields (a JWS or bytes: nothing).
        shown = json if body is None else dict(body.data) if isinstance(body.data, Mapping) else None
        return self._act(route, answer, scopes, response, params=params, json=shown)

    def _act(
        self, route: Route, answer: Answer, scopes: list[Scope], response: requests.Response, *, params: Any, json: Any
    ) -> Any:
        """Do what the service's verdict on ``answer`` says."""
        verdict: Verdict = route.service.classify(answer)
        endpoint = answer.endpoint
        if verdict.counts_error and verdict.kind != OK:
            self.stats.add(endpoint, errors=1)
        if verdict.throttled:
            self.stats.add(endpoint, throttled=1)
        if verdict.kind == OK:
            if verdict.note and route.session is not None:
                route.session.note_answer(answer.method, answer.path, verdict.body)
            self._after_success(route, answer, params, json)
            return verdict.body
        if verdict.kind == RETRY:
            raise _Retry(verdict.reason, reset_window=verdict.reset_window, pause_floor=verdict.pause_floor)
        if verdict.kind == THROTTLE:
            self._penalize(endpoint, scopes, response)
        if verdict.kind == RECOVER and verdict.error is not None:
            raise _Recover(verdict.error)
        if verdict.kind == PRIME:
            raise _Prime(verdict.reason)
        if verdict.kind == FAIL and verdict.error is not None:
            raise verdict.error
        raise IbkrError(f"no rule for the answer ({verdict.kind})", endpoint=endpoint, status=answer.status)

    def _penalize(self, endpoint: str, scopes: list[Scope], response: requests.Response) -> None:
        scope = scopes[0].name if len(scopes) > 1 and self.limits.penalty_scope == "scope" else GLOBAL
        if GLOBAL not in {s.name for s in scopes}:  # a service outside the Client Portal's global limit
            scope = scopes[0].name
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
        raise PacingViolation(f"429 on {endpoint}", endpoint=endpoint, scope=scope, until_epoch=time.time() + seconds)

    def _after_success(self, route: Route, answer: Answer, params: Any, json: Any) -> None:
        if not answer.row.archive or not self.hooks:
            return
        secrets = frozenset(s.lower() for s in route.service.secrets(answer.row))
        safe_params = without_secrets(dict(params), secrets) if params else params
        safe_body = without_secrets(json, secrets)
        content = answer_without_secrets(answer.content, answer.row.secret_fields)
        content = answer_with_digests(content, answer.row.document_fields)
        for hook in list(self.hooks):
            hook(answer.method, answer.path, safe_params, safe_body, answer.status, content)
