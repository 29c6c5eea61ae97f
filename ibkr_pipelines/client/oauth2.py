"""OAuth 2.0 as IBKR runs it: a ``private_key_jwt`` access token, an SSO session, then a bearer on /v1/api.

Reference §1.4, in order: a client assertion (a JWT signed RS256 with the registered key; PyJWT signs
it, nothing here is hand-rolled) buys an access token at ``/oauth2/api/v1/token``; that token as bearer,
with a second JWT as the ``application/jwt`` body (ip, credential, iss, exp, iat), buys an SSO session
at ``/gw/api/v1/sso-sessions``, whose ``access_token`` is the bearer of every Client Portal request.
``/sso/validate`` then checks the process's first one. The brokerage tier opens with ``ssodh/init`` as in every mode. The
access token itself is the Account Management API's bearer (``for_account_management``).

Renewal: each token is renewed before it expires (an hour ahead, or a tenth of a short life, as the
OAuth 1.0a live session token is), and after a 401 once per wave: threads remember which SSO session
they signed with, so the first to see a 401 renews and the others retry with the new bearer.

Nothing secret leaves this object: no log line, error or counter carries a token, an assertion or the
key; a refusal names the setting to fix.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import jwt
import requests
from requests.auth import AuthBase

from ibkr_pipelines.client.auth import open_brokerage_renewing, setting_to_fix
from ibkr_pipelines.client.calls import SessionCalls
from ibkr_pipelines.client.oauth1 import load_private_key
from ibkr_pipelines.client.services import ACCOUNT_MANAGEMENT, OAUTH2
from ibkr_pipelines.client.transport import Body
from ibkr_pipelines.config import OAuth2Settings
from ibkr_pipelines.errors import ApiErrorBody, IbkrError, NotAuthenticated, OAuthRefused

log = logging.getLogger(__name__)

TOKEN_PATH = "/token"  # under /oauth2/api/v1 (reference §1.4 step 1)
SSO_SESSIONS_PATH = "/sso-sessions"  # under /gw/api/v1 (reference §1.4 step 4)
VALIDATE_PATH = "/sso/validate"  # under /v1/api (reference §1.4 step 5)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # reference §1.4 step 1
AUDIENCE = "/token"  # reference §1.4 step 2 (ibauth's choice)
ASSERTION_SECONDS = 20  # exp = now + 20, iat = now - 10 (reference §1.4 step 2)
SSO_SECONDS = 86400  # the SSO session JWT's exp (reference §1.4 step 4)
REFRESH_AHEAD_SECONDS = 3600.0  # as the OAuth 1.0a LST: renew an hour ahead, or a tenth of a short life

# What a refusal's text points at -> the setting to fix, most specific first. IBKR's texts are not
# public (reference §1.4 names only problem+json); they are read by keyword, with a fallback naming
# every credential.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("expired", "exp ", "iat", "future", "clock", "timestamp"),
     "this machine's clock (IBKR refused a JWT's time: synchronise it with NTP)"),
    (("kid", "key id"), "IBKR_OAUTH2_KEY_ID (the key id you registered the public key under)"),
    (("signature",), "IBKR_OAUTH2_PRIVATE_KEY (the private key whose public half you registered)"),
    (("credential", "username"), "IBKR_OAUTH2_CREDENTIAL (the IB username this client acts for)"),
    (("scope",), "IBKR_OAUTH2_SCOPES (scopes this client is allowed, e.g. sso-sessions.write)"),
    (("client",), "IBKR_OAUTH2_CLIENT_ID (is the client registered and active?)"),
    ((" ip",), "IBKR_OAUTH2_IP (this machine's public IP address, as IBKR sees it)"),
)
_ALL_SETTINGS = "IBKR_OAUTH2_CLIENT_ID, IBKR_OAUTH2_KEY_ID, IBKR_OAUTH2_PRIVATE_KEY, IBKR_OAUTH2_CREDENTIAL"


def what_to_fix(text: str) -> str:
    """The setting a refusal text points at (every OAuth 2.0 credential when it says nothing recognisable)."""
    return setting_to_fix(text, _CAUSES, _ALL_SETTINGS)


@dataclass
class _Token:
    """A bearer token and when it was bought and ends (epoch seconds on our clock)."""

    value: str
    made: float
    expires: float

    def fresh(self, now: float) -> bool:
        """True while more than an hour (a tenth of a short life) is left."""
        life = self.expires - self.made
        return now < self.expires - min(REFRESH_AHEAD_SECONDS, max(life, 0.0) / 10)


class _Bearer(AuthBase):
    """Adds ``Authorization: Bearer`` with whatever token ``current`` gives (nothing before the first)."""

    def __init__(self, current: Callable[[], str | None]) -> None:
        self.current = current

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Sign one outgoing request."""
        token = self.current()
        if token is not None:
            request.headers["Authorization"] = f"Bearer {token}"
        return request


class OAuth2Auth:
    """IBKR OAuth 2.0: the access token, the SSO session and its bearer on every Client Portal request."""

    name = "oauth2"

    def __init__(self, settings: OAuth2Settings, *, compete: bool = False, clock: Callable[[], float] = time.time,
                 status_polls: int = 3, poll_seconds: float = 1.0) -> None:
        self._settings = settings
        self._key = load_private_key(settings.private_key, "IBKR_OAUTH2_PRIVATE_KEY")
        self.compete = compete
        self._clock = clock
        self._status_polls = status_polls
        self._poll_seconds = poll_seconds
        self._lock = threading.RLock()
        self._access: _Token | None = None
        self._sso: _Token | None = None
        self._generation = 0  # how many SSO sessions this process has had
        self._signed = threading.local()  # the generation this thread last signed with
        # IBKR refused these credentials: said again to every later step, not sent again (no fix comes mid-run).
        self._refusal: OAuthRefused | None = None

    # -- signing ---------------------------------------------------------------------------------

    def signer(self) -> AuthBase | None:
        """The Client Portal signer: the SSO session's bearer (applied right before the socket)."""
        return _Bearer(self._sso_bearer)

    def _sso_bearer(self) -> str | None:
        sso, self._signed.generation = self._sso, self._generation
        return None if sso is None else sso.value

    def _access_bearer(self) -> str | None:
        return None if self._access is None else self._access.value

    def for_account_management(self) -> "AccessTokenAuth":
        """The authenticator of Account Management requests: the same access token, renewed the same way."""
        return AccessTokenAuth(self)

    # -- the sessions ----------------------------------------------------------------------------

    def session_fresh(self) -> bool:
        """True while the SSO session's bearer has more than an hour left (a tenth of a short life)."""
        return self._sso is not None and self._sso.fresh(self._clock())

    def access_fresh(self) -> bool:
        """True while the access token has more than an hour left (a tenth of a short life)."""
        return self._access is not None and self._access.fresh(self._clock())

    def open_session(self, caller: SessionCalls) -> None:
        """A new SSO session (and access token when due), unless one newer than this thread's refused one exists."""
        with self._lock:
            signed_with = getattr(self._signed, "generation", None)
            if self.session_fresh() and signed_with is not None and signed_with < self._generation:
                return
            self._new_sso_session(caller)

    def ensure_access(self, caller: SessionCalls, *, renew: bool = False) -> None:
        """An access token with time left (a new one when ``renew``, after IBKR refused the one we had)."""
        with self._lock:
            if renew or not self.access_fresh():
                self._new_access_token(caller)

    def _refused(self, exc: ApiErrorBody | NotAuthenticated, step: str, endpoint: str) -> OAuthRefused:
        said = f" ({exc.text})" if exc.text else ""
        self._refusal = OAuthRefused(f"IBKR refused the OAuth 2.0 {step}{said}: check {what_to_fix(exc.text)}",
                                     endpoint=endpoint, status=exc.status, text=exc.text)
        return self._refusal

    def _new_access_token(self, caller: SessionCalls) -> None:
        """``POST /oauth2/api/v1/token`` with a fresh client assertion (reference §1.4 steps 1-3)."""
        if self._refusal is not None:
            raise self._refusal
        s, now = self._settings, int(self._clock())
        assertion = jwt.encode(
            {"iss": s.client_id, "sub": s.client_id, "aud": AUDIENCE, "exp": now + ASSERTION_SECONDS,
             "iat": now - 10, "jti": secrets.token_hex(16)},
            self._key, algorithm="RS256", headers={"kid": s.key_id},
        )
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion, "scope": " ".join(s.scopes)}
        endpoint = f"POST {OAUTH2.root}{TOKEN_PATH}"
        try:
            answer = caller.call_service(OAUTH2, "POST", TOKEN_PATH, body=Body(form, "application/x-www-form-urlencoded"))
        except (NotAuthenticated, ApiErrorBody) as refused:
            raise self._refused(refused, "access token request", endpoint) from None
        self._access = self._read_token(answer, endpoint)
        log.info("IBKR OAuth 2.0 access token obtained; it expires in %.0f s", self._access.expires - self._access.made)

    def _new_sso_session(self, caller: SessionCalls) -> None:
        """An SSO session (reference §1.4 step 4), then ``/sso/validate`` with its bearer (step 5)."""
        if self._refusal is not None:
            raise self._refusal
        self.ensure_access(caller)
        s, now = self._settings, int(self._clock())
        claims = {"ip": s.ip, "credential": s.credential, "iss": s.client_id, "exp": now + SSO_SECONDS, "iat": now}
        body = Body(jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": s.key_id}).encode("ascii"),
                    "application/jwt")
        endpoint = f"POST {ACCOUNT_MANAGEMENT.root}{SSO_SESSIONS_PATH}"
        auth = self.for_account_management()
        try:
            try:
                answer = caller.call_service(ACCOUNT_MANAGEMENT, "POST", SSO_SESSIONS_PATH, auth=auth, body=body)
            except NotAuthenticated:  # the access token ended early (revoked, or IBKR's clock ahead of ours)
                self.ensure_access(caller, renew=True)
                answer = caller.call_service(ACCOUNT_MANAGEMENT, "POST", SSO_SESSIONS_PATH, auth=auth, body=body)
        except (NotAuthenticated, ApiErrorBody) as refused:
            raise self._refused(refused, "SSO session request", endpoint) from None
        self._sso = self._read_token(answer, endpoint)
        self._generation += 1
        if self._generation > 1:
            # /sso/validate is paced at 1 per minute (reference §5.2): a renewal soon after the first would
            # wait for it. The retried request that follows proves the new bearer as well.
            return
        try:
            caller.call_unrecovered("GET", VALIDATE_PATH)
        except NotAuthenticated as refused:
            raise self._refused(refused, "SSO session's bearer on /sso/validate", f"GET {VALIDATE_PATH}") from None
        log.info("IBKR OAuth 2.0 SSO session opened; its bearer expires in %.0f s", self._sso.expires - self._sso.made)

    def _read_token(self, answer: Any, endpoint: str) -> _Token:
        """The ``access_token`` and its life from a token or SSO session answer."""
        if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
            raise IbkrError("IBKR's answer has no access_token", endpoint=endpoint)
        try:
            life = float(answer.get("expires_in") or SSO_SECONDS)
        except (TypeError, ValueError):
            life = float(SSO_SECONDS)  # guess: the reference gives expires_in for the token answer only
        now = self._clock()
        return _Token(answer["access_token"], now, now + life)

    def open_brokerage(self, caller: SessionCalls) -> None:
        """``ssodh/init`` with the SSO session's bearer (reference §1.4 step 5); on a 401 a new session, then once more."""
        open_brokerage_renewing(caller, compete=self.compete, status_polls=self._status_polls,
                                poll_seconds=self._poll_seconds, renew=lambda: self.open_session(caller),
                                refused=self._brokerage_refused)

    @staticmethod
    def _brokerage_refused(endpoint: str) -> OAuthRefused:
        return OAuthRefused(
            f"IBKR refused the OAuth 2.0 SSO session's bearer on the brokerage session: check {_ALL_SETTINGS}",
            endpoint=endpoint, status=401,
        )


class AccessTokenAuth:
    """Account Management requests: the OAuth 2.0 access token as bearer (reference §3.1), shared and renewed."""

    name = "oauth2"

    def __init__(self, owner: OAuth2Auth) -> None:
        self.owner = owner

    def signer(self) -> AuthBase | None:
        """The access token's bearer."""
        return _Bearer(self.owner._access_bearer)

    def open_session(self, caller: SessionCalls) -> None:
        """A new access token (IBKR refused the one we had, or it is about to expire)."""
        self.owner.ensure_access(caller, renew=True)

    def session_fresh(self) -> bool:
        """True while the access token has more than an hour left."""
        return self.owner.access_fresh()

    def open_brokerage(self, caller: SessionCalls) -> None:
        """Account Management has no brokerage tier."""
