"""The OAuth 2.0 gate: registered clients, access tokens, SSO sessions' bearers, refusals (reference §1.4).

When at least one client is registered the simulator stands in for ``api.ibkr.com`` with OAuth 2.0:

- ``POST /oauth2/api/v1/token`` (``token``): a ``private_key_jwt`` client assertion in, an access
  token out (reference §1.4 steps 1-3).
- ``POST /gw/api/v1/sso-sessions`` (``sso_session``): that access token as bearer, a JWS body signed by
  the client's key; out comes a bearer for the Client Portal API (step 4).
- every ``/v1/api`` request carrying ``Authorization: Bearer`` (``check``): the bearer must be a live
  SSO session's (step 5).
- ``authorize`` is the hook for the Account Management root ``/gw/api/v1`` (reference §3.1): a live
  access token holding a scope; the AM endpoints are declared in am_routes (modules in am_endpoints).

Refusals on /oauth2 and /gw are RFC 9457 problem+json (reference §1.4 step 3, §3.1), each with its
own ``detail``; on /v1/api they are 401 ``{"error": ..., "statusCode": 401}`` as the OAuth 1.0a gate
answers (oauth1_gate.py). Every text is a guess (IBKR's are not public), distinct so a client can tell
its user what to fix; the statuses follow RFC 6749 §5.2 (400 for the request, 401 for the client's
authentication) and RFC 6750 §3.1 (403 for a missing scope) where the reference says nothing.

Clocks: wall-clock seconds (``time.time()``) passed in by the caller, as in oauth1_gate. No token,
assertion or JWS is ever put in a reply text, a counter or a log; tokens are kept by their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qsl

from ibkr_pipelines.simulator.api import Reply, error
from ibkr_pipelines.simulator.oauth1_gate import Verdict
from ibkr_pipelines.simulator.oauth2 import (
    ALGORITHM,
    ASSERTION_MAX_SECONDS,
    ASSERTION_TYPE,
    GRANT_TYPE,
    IAT_SKEW_SECONDS,
    KNOWN_SCOPES,
    SSO_SCOPE,
    OAuth2Client,
    audience_ok,
    numeric,
    read_jws,
    scopes_of,
    signature_valid,
    token_audiences,
    verify_client_jws,
)

PROBLEM_TYPE = "/simple"  # reference §1.4 step 3: {"type":"/simple","title":"Bad Request","status":400}
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}
_FORM = "application/x-www-form-urlencoded"  # reference §1.4 step 1
_JWT = "application/jwt"  # reference §1.4 step 4
_TOKEN_FIELDS = ("grant_type", "client_assertion_type", "client_assertion", "scope")
_SSO_CLAIMS = ("ip", "credential", "iss", "exp", "iat")  # reference §1.4 step 4
_KEPT_AFTER_EXPIRY = 86400.0  # ended tokens remembered a day, only to tell "expired" from "unknown"

# reason -> (status, problem+json detail) on /oauth2 and /gw. All texts: guess (see the module doc).
PROBLEMS: dict[str, tuple[int, str]] = {
    # POST /oauth2/api/v1/token: the form (400, RFC 6749 §5.2 invalid_request and friends)
    "not_form": (400, "Content-Type must be application/x-www-form-urlencoded"),
    "missing_field": (400, "a form field is missing: grant_type, client_assertion_type, client_assertion "
                           "and scope are required"),
    "unsupported_grant_type": (400, "grant_type must be client_credentials"),
    "invalid_assertion_type": (400, "client_assertion_type must be " + ASSERTION_TYPE),
    "invalid_scope": (400, "scope names a scope this API does not have"),
    # the client assertion (401, RFC 6749 §5.2 invalid_client)
    "malformed_assertion": (401, "client_assertion is not a compact JWS"),
    "unsupported_alg": (401, "client_assertion must be signed with RS256"),
    "missing_claim": (401, "client_assertion lacks a claim: iss, sub, aud, exp and iat are required"),
    "iss_sub_mismatch": (401, "client_assertion iss and sub must both be the client id"),
    "unknown_client": (401, "unknown client: iss names no registered client"),
    "unknown_kid": (401, "client_assertion kid is not a key registered for this client"),
    "bad_signature": (401, "client_assertion signature does not verify with the client's registered key"),
    "wrong_audience": (401, "client_assertion aud must be /token (or the token endpoint URL)"),
    "assertion_expired": (401, "client_assertion has expired (exp is in the past)"),
    "assertion_too_long": (401, "client_assertion exp is too far ahead (at most 300 s after now)"),
    "iat_in_future": (401, "client_assertion iat is in the future"),
    "jti_reused": (401, "client_assertion jti was already used"),
    # POST /gw/api/v1/sso-sessions and the AM root: the bearer (401; 403 for a scope, RFC 6750 §3.1)
    "bearer_missing": (401, "Authorization: Bearer <access token> is missing"),
    "bearer_unknown": (401, "the bearer token is not an access token this server issued"),
    "bearer_expired": (401, "the access token has expired: request a new one at /oauth2/api/v1/token"),
    "bearer_is_cp_token": (401, "this is an SSO session's Client Portal bearer; the Account Management API "
                                "takes the OAuth 2.0 access token"),
    "insufficient_scope": (403, "the access token lacks the scope this endpoint needs"),
    # the SSO session JWS (reference §1.4 step 4)
    "not_jwt": (400, "Content-Type must be application/jwt"),
    "sso_malformed": (400, "the body is not a compact JWS"),
    "sso_unsupported_alg": (401, "the SSO session JWS must be signed with RS256"),
    "sso_unknown_kid": (401, "the SSO session JWS kid is not the client's registered key id"),
    "sso_bad_signature": (401, "the SSO session JWS signature does not verify with the client's registered key"),
    "sso_iss_mismatch": (401, "the SSO session JWS iss is not the client the access token was issued to"),
    "sso_missing_claim": (400, "the SSO session JWS lacks a claim: ip, credential, iss, exp and iat are required"),
    "sso_wrong_credential": (400, "credential is not the IB username registered for this client"),
    "sso_expired": (400, "the SSO session JWS has expired (exp is in the past)"),
    "sso_iat_in_future": (400, "the SSO session JWS iat is in the future"),
    # the AM root beyond sso-sessions
    "no_am_endpoint": (404, "the simulator serves no Account Management endpoint here"),
    "method_not_allowed": (405, "the token endpoint takes POST only"),
}

# reason -> 401 text on /v1/api with a bearer. Shape as oauth1_gate.REFUSALS; every text a guess.
REFUSALS = {
    "no_bearer": "Not Authenticated: no Authorization: Bearer header (send the SSO session's access_token)",
    "bearer_malformed": "Malformed Authorization header: expected Bearer <token>",
    "bearer_unknown": "Invalid Bearer Token",
    "bearer_expired": "Bearer Token Expired: create a new SSO session at /gw/api/v1/sso-sessions",
    "bearer_is_access_token": "Wrong Bearer Token: this is the OAuth 2.0 access token; /v1/api takes the "
                              "access_token of an SSO session",
}
# guess: reference §1.4 step 6 gives the status (500) of ssodh/init on a new paper account, not the body.
SSODH_INIT_500 = "Internal Server Error: brokerage session unavailable for this account"


def problem(status: int, detail: str) -> Reply:
    """An RFC 9457 problem+json reply, IBKR's error form on the OAuth 2.0 and AM roots (reference §1.4, §3.1)."""
    body = {"type": PROBLEM_TYPE, "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    return Reply(status, body, {"Content-Type": "application/problem+json"})


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _bearer(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>``; "" for another scheme or an empty token, None without a header."""
    if not authorization or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


@dataclass
class _Token:
    kind: str  # "access" (the OAuth 2.0 access token) | "cp" (an SSO session's Client Portal bearer)
    client_id: str
    scopes: tuple[str, ...]
    expires: float  # wall-clock seconds


class OAuth2Gate:
    """Thread-safe registry of OAuth 2.0 clients and the tokens issued to them; judges their requests."""

    def __init__(self, bearer_seconds: float = 86399.0, *, ssodh_init_500: bool = False) -> None:
        self.bearer_seconds = bearer_seconds
        self.ssodh_init_500 = ssodh_init_500
        self._lock = threading.Lock()
        self._clients: dict[str, OAuth2Client] = {}
        self._tokens: dict[str, _Token] = {}  # SHA-256 of the token -> what it is
        self._jtis: dict[tuple[str, str], float] = {}  # (client id, jti) -> the assertion's exp
        self._issued = 0
        self._sso = 0
        self._accepted = 0
        self._refusals: dict[str, int] = {}
        # Not IBKR: a test hook told every token issued, so a secret scan can look for it (--secrets-out).
        self.on_secret: Callable[[str], None] | None = None

    # -- registration --
    @property
    def active(self) -> bool:
        """True once a client is registered: the /oauth2 and /gw roots answer, bearers pass /v1/api."""
        return bool(self._clients)

    def register(self, client: OAuth2Client) -> None:
        """Register (or replace the key of) a client; tokens issued to it stay valid."""
        with self._lock:
            self._clients[client.client_id] = client

    def clients(self) -> dict[str, OAuth2Client]:
        """The registered clients, by client id (in registration order)."""
        with self._lock:
            return dict(self._clients)

    # -- lifetime of tokens --
    def any_live(self, now: float) -> bool:
        """Whether any SSO session bearer is live at ``now`` (the Web API session's lifeline)."""
        with self._lock:
            return any(t.kind == "cp" and t.expires > now for t in self._tokens.values())

    def expire_all(self, now: float) -> None:
        """Every live access token and SSO session bearer expires now (``POST /sim/expire-oauth``)."""
        with self._lock:
            for t in self._tokens.values():
                t.expires = min(t.expires, now)

    def _refuse(self, reason: str) -> Reply:
        """Count a problem+json refusal and make it (lock held)."""
        self._refusals[reason] = self._refusals.get(reason, 0) + 1
        return problem(*PROBLEMS[reason])

    def _new_token(self, kind: str, client_id: str, scopes: tuple[str, ...], now: float) -> str:
        """Issue an opaque token and remember it by digest; drop ones long ended (lock held)."""
        # guess: opaque tokens. Reference §1.4 step 3 shows "eyJ...", a JWT, but a client must not read
        # it; an opaque one makes sure it does not.
        for key in [k for k, t in self._tokens.items() if t.expires < now - _KEPT_AFTER_EXPIRY]:
            del self._tokens[key]
        token = secrets.token_urlsafe(32)
        self._tokens[_digest(token)] = _Token(kind, client_id, scopes, now + self.bearer_seconds)
        if self.on_secret is not None:
            self.on_secret(token)
        return token

    # -- POST /oauth2/api/v1/token --
    def token(self, content_type: str | None, raw: bytes, token_url: str, now: float) -> Reply:
        """Answer a token request (reference §1.4 steps 1-3): an access token, or a problem+json refusal."""
        with self._lock:
            reason, form = self._token_reason(content_type, raw, token_url, now)
            if reason is not None:
                return self._refuse(reason)
            client_id, scopes = form
            token = self._new_token("access", client_id, scopes, now)
            self._issued += 1
            return Reply(200, {"access_token": token, "token_type": "Bearer", "scope": " ".join(scopes),
                               "expires_in": int(self.bearer_seconds)})  # reference §1.4 step 3

    def _token_reason(self, content_type: str | None, raw: bytes, token_url: str,
                      now: float) -> tuple[str | None, Any]:
        """(refusal reason, None) or (None, (client id, granted scopes)); the lock is held."""
        if _media_type(content_type) != _FORM:
            return "not_form", None
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            return "not_form", None
        # guess: scope is required; IBKR's clients always send it (reference §1.4 step 1).
        if any(not form.get(name) for name in _TOKEN_FIELDS):
            return "missing_field", None
        if form["grant_type"] != GRANT_TYPE:
            return "unsupported_grant_type", None
        if form["client_assertion_type"] != ASSERTION_TYPE:
            return "invalid_assertion_type", None
        scopes = scopes_of(form["scope"])
        if not scopes or any(s not in KNOWN_SCOPES for s in scopes):
            return "invalid_scope", None
        # RFC 7523 §3 and reference §1.4 step 2: the assertion identifies and authenticates the client.
        assertion = form["client_assertion"]
        try:
            header, claims = read_jws(assertion)
        except ValueError:
            return "malformed_assertion", None
        if header.get("alg") != ALGORITHM:
            return "unsupported_alg", None
        if any(claims.get(name) in (None, "") for name in ("iss", "sub", "aud", "exp", "iat")):
            return "missing_claim", None
        iss, sub = claims["iss"], claims["sub"]
        if iss != sub:
            return "iss_sub_mismatch", None
        client = self._clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            return "unknown_client", None
        if header.get("kid") != client.key_id:
            return "unknown_kid", None
        if not signature_valid(assertion, client.public_key()):
            return "bad_signature", None
        if not audience_ok(claims, token_audiences(token_url)):
            return "wrong_audience", None
        exp, iat = numeric(claims, "exp"), numeric(claims, "iat")
        if exp is None or iat is None:
            return "missing_claim", None
        if exp <= now:
            return "assertion_expired", None
        if exp > now + ASSERTION_MAX_SECONDS:
            return "assertion_too_long", None
        if iat > now + IAT_SKEW_SECONDS:
            return "iat_in_future", None
        jti = claims.get("jti")
        if jti is not None:
            # guess: a jti, when sent, is single-use until the assertion's exp (RFC 7523 §3 item 7 allows
            # it); ibauth sends none, so none is required.
            for key in [k for k, e in self._jtis.items() if e <= now]:
                del self._jtis[key]
            if (client.client_id, str(jti)) in self._jtis:
                return "jti_reused", None
            self._jtis[(client.client_id, str(jti))] = exp
        return None, (client.client_id, scopes)

    # -- the bearer on /gw (the Account Management root) --
    def authorize(self, authorization: str | None, scope: str | tuple[str, ...] | None,
                  now: float) -> tuple[Reply | None, str]:
        """(problem+json refusal or None, client id): a live access token holding ``scope`` (any of a tuple)."""
        with self._lock:
            reason, client_id = self._access_reason(authorization, scope, now)
            return (self._refuse(reason) if reason else None), client_id

    def _access_reason(self, authorization: str | None, scope: str | tuple[str, ...] | None,
                       now: float) -> tuple[str | None, str]:
        """(reason or None, the token's client id) for an access-token bearer holding ``scope`` (lock held)."""
        token = _bearer(authorization)
        if not token:
            return "bearer_missing", ""
        t = self._tokens.get(_digest(token))
        if t is None:
            return "bearer_unknown", ""
        if t.kind != "access":
            return "bearer_is_cp_token", ""
        if t.expires <= now:
            return "bearer_expired", ""
        # A tuple lists alternatives: IBKR's reference pages write "Scope: `statements.read` OR `reports.read`".
        wanted = (scope,) if isinstance(scope, str) else scope
        if wanted is not None and not set(wanted) & set(t.scopes):
            return "insufficient_scope", ""
        return None, t.client_id

    def refuse(self, reason: str) -> Reply:
        """Count and make the problem+json refusal of ``reason`` (a PROBLEMS key), e.g. "no_am_endpoint"."""
        with self._lock:
            return self._refuse(reason)

    # -- POST /gw/api/v1/sso-sessions --
    def sso_session(self, authorization: str | None, content_type: str | None, raw: bytes, now: float) -> Reply:
        """Answer an SSO session request (reference §1.4 step 4): a Client Portal bearer, or a refusal."""
        with self._lock:
            reason, client_id = self._access_reason(authorization, SSO_SCOPE, now)
            if reason is None:
                reason = self._sso_reason(self._clients[client_id], content_type, raw, now)
            if reason is not None:
                return self._refuse(reason)
            token = self._new_token("cp", client_id, (), now)
            self._sso += 1
            # Reference §1.4 step 4 names only ``access_token``; guess: token_type and expires_in as the
            # token endpoint answers them, so a client can schedule the renewal.
            return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.bearer_seconds)})

    def _sso_reason(self, client: OAuth2Client, content_type: str | None, raw: bytes, now: float) -> str | None:
        """Why the SSO session JWS is refused, or None (lock held)."""
        if _media_type(content_type) != _JWT:
            return "not_jwt"
        try:
            body = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return "sso_malformed"
        jws_reason, claims = verify_client_jws(body, client)
        if jws_reason is not None:
            return "sso_" + jws_reason
        if any(claims.get(name) in (None, "") for name in _SSO_CLAIMS):
            return "sso_missing_claim"
        if claims["iss"] != client.client_id:
            return "sso_iss_mismatch"
        # guess: ``ip`` is the caller's public IP (reference §1.4 step 4); a simulator on loopback cannot
        # know it, so it must be present but is not compared.
        if claims["credential"] != client.credential:
            return "sso_wrong_credential"
        exp, iat = numeric(claims, "exp"), numeric(claims, "iat")
        if exp is None or iat is None:
            return "sso_missing_claim"
        if exp <= now:
            return "sso_expired"
        if iat > now + IAT_SKEW_SECONDS:
            return "sso_iat_in_future"
        return None

    # -- /v1/api with a bearer --
    def check(self, path: str, authorization: str | None, now: float) -> Verdict:
        """Judge one /v1/api request (``path`` relative to /v1/api): a live SSO session bearer passes."""
        with self._lock:
            token = _bearer(authorization)
            reason: str | None = None
            if token is None:
                reason = "no_bearer"
            elif not token:
                reason = "bearer_malformed"
            else:
                t = self._tokens.get(_digest(token))
                if t is None:
                    reason = "bearer_unknown"
                elif t.kind != "cp":
                    reason = "bearer_is_access_token"
                elif t.expires <= now:
                    reason = "bearer_expired"
            if reason is not None:
                key = "cp_" + reason
                self._refusals[key] = self._refusals.get(key, 0) + 1
                return Verdict(refusal=error(401, REFUSALS[reason]))
            self._accepted += 1
            if self.ssodh_init_500 and path == "/iserver/auth/ssodh/init":
                # Reference §1.4 step 6: new paper accounts may get 500 from ssodh/init (off by default).
                return Verdict(reply=error(500, SSODH_INIT_500))
            return Verdict()

    # -- counters --
    def stats(self) -> dict[str, Any]:
        """Counters for ``Simulator.stats()["oauth2"]``: no token, assertion or JWS, only counts."""
        with self._lock:
            return {"clients": len(self._clients), "tokens_issued": self._issued, "sso_sessions": self._sso,
                    "bearer_requests": self._accepted, "refusals": dict(self._refusals)}

    def reset_stats(self) -> None:
        """Forget the counters (clients and tokens stay)."""
        with self._lock:
            self._issued = 0
            self._sso = 0
            self._accepted = 0
            self._refusals = {}
