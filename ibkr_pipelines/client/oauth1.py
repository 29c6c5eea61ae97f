"""OAuth 1.0a as IBKR runs it: a live session token (LST) from a DH handshake, then HMAC-SHA256 on every request.

The read-only session is the LST itself: ``open_session`` makes one (reference §1.3 steps 1-9) and the
session keeper asks for a new one before it expires (``session_fresh``, an hour ahead as IbkrConduit
does, or a tenth of a short lifetime) and after any 401. The brokerage session is opened as in every
mode, with ``ssodh/init`` (step 11). The signer signs at the socket, after the pacing gate, so a wait
never ages a timestamp. Query parameters stay out of the signed string, as ibind sends them in
production (reference §1.3 "Quirks": IBKR accepts that form; whether it also checks the other is
unverified). The arithmetic is in ``oauth1_signing``; why oauthlib cannot do it is said there.

Nothing secret leaves this object: no log line, error or counter carries the LST, the secret, the
signature or the DH values; a refusal names the setting to fix.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.auth import AuthBase

from ibkr_pipelines.client.auth import open_brokerage_renewing, setting_to_fix
from ibkr_pipelines.client.calls import SessionCalls
from ibkr_pipelines.client.oauth1_signing import (
    HMAC_METHOD,
    LST_PATH,
    RSA_METHOD,
    authorization_header,
    base_string,
    decrypt_prepend,
    dh_challenge,
    hmac_signature,
    live_session_token,
    lst_matches,
    oauth_params,
    rsa_signature,
)
from ibkr_pipelines.config import OAuth1Settings
from ibkr_pipelines.errors import ConfigError, IbkrError, NotAuthenticated, OAuthRefused

log = logging.getLogger(__name__)

LST_ENDPOINT = f"POST {LST_PATH}"
REFRESH_AHEAD_SECONDS = 3600.0  # IbkrConduit renews an hour before expiry (reference §1.3 step 11)

# What a refusal's text points at -> the setting to fix, most specific first ("Invalid Token: not this
# consumer's token" is about the token). IBKR's texts are known only for "Invalid Consumer" (reference
# §1.3 "Quirks"); the rest are read by keyword, with a fallback naming every credential.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("timestamp", "clock", "skew"), "this machine's clock (IBKR refused the timestamp: synchronise it with NTP)"),
    (("nonce",), "nothing to change: a repeated nonce (re-run; if it repeats, report it)"),
    (("realm",), "IBKR_OAUTH1_REALM (limited_poa, or test_realm for TESTCONS)"),
    (("diffie", "dh "), "IBKR_OAUTH1_DH_PRIME and IBKR_OAUTH1_DH_GENERATOR (the portal's values)"),
    (("signature",), "IBKR_OAUTH1_SIGNATURE_KEY (the private key whose public half you registered), "
                     "IBKR_OAUTH1_ACCESS_TOKEN_SECRET or IBKR_OAUTH1_ENCRYPTION_KEY"),
    (("token",), "IBKR_OAUTH1_ACCESS_TOKEN (the access token the portal issued to this consumer)"),
    (("consumer",), "IBKR_OAUTH1_CONSUMER_KEY (is the consumer key registered and active?)"),
)
_ALL_SETTINGS = ("IBKR_OAUTH1_CONSUMER_KEY, IBKR_OAUTH1_ACCESS_TOKEN, IBKR_OAUTH1_ACCESS_TOKEN_SECRET, "
                 "IBKR_OAUTH1_SIGNATURE_KEY, IBKR_OAUTH1_ENCRYPTION_KEY")


def what_to_fix(text: str) -> str:
    """The setting a refusal text points at (all OAuth 1.0a settings when it says nothing recognisable)."""
    return setting_to_fix(text, _CAUSES, _ALL_SETTINGS)


def load_private_key(path: Path, setting: str) -> rsa.RSAPrivateKey:
    """An unencrypted RSA private key from a PEM file; one line naming ``setting`` when it is not one."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        reason = "it is encrypted (give an unencrypted PEM)" if "password" in str(exc).lower() else "not an RSA private key in PEM form"
        raise ConfigError(setting, f"cannot read {str(path)!r}: {reason}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(setting, f"{str(path)!r} holds a {type(key).__name__}, not an RSA private key")
    return key


class _Signer(AuthBase):
    """Signs one outgoing request: RSA-SHA256 with a DH challenge for the LST request, HMAC-SHA256 otherwise."""

    def __init__(self, owner: "OAuth1Auth") -> None:
        self.owner = owner

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the ``Authorization`` header (no header before any LST: IBKR's 401 then opens a session)."""
        header = self.owner.authorization(str(request.method), str(request.url))
        if header is not None:
            request.headers["Authorization"] = header
        return request


class OAuth1Auth:
    """IBKR OAuth 1.0a: the LST handshake, its renewal, and a signature on every request."""

    name = "oauth1"

    def __init__(self, settings: OAuth1Settings, *, compete: bool = False, clock: Callable[[], float] = time.time,
                 status_polls: int = 3, poll_seconds: float = 1.0) -> None:
        self._settings = settings
        self._signature_key = load_private_key(settings.signature_key, "IBKR_OAUTH1_SIGNATURE_KEY")
        encryption_key = load_private_key(settings.encryption_key, "IBKR_OAUTH1_ENCRYPTION_KEY")
        try:
            self._prepend = decrypt_prepend(settings.access_token_secret, encryption_key)
        except ValueError:
            raise ConfigError(
                "IBKR_OAUTH1_ACCESS_TOKEN_SECRET",
                "cannot be decrypted with IBKR_OAUTH1_ENCRYPTION_KEY: is it the portal's base64 secret, and the "
                "key whose public half you registered?",
            ) from None
        self.compete = compete
        self._clock = clock
        self._status_polls = status_polls
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._lst: str | None = None
        self._generation = 0  # how many LSTs this process has had
        self._signed = threading.local()  # the generation of the LST this thread last signed with
        self._lst_made = 0.0
        self._lst_expires = 0.0  # epoch seconds, IBKR's own figure
        self._challenge: int | None = None  # the DH secret of the LST request in flight
        # IBKR refused these credentials: said again to every later step, not sent again (no fix comes mid-run).
        self._refusal: OAuthRefused | None = None

    # -- signing ---------------------------------------------------------------------------------

    def signer(self) -> AuthBase | None:
        """The per-request signer (applied by the transport right before the socket)."""
        return _Signer(self)

    def authorization(self, method: str, url: str) -> str | None:
        """The ``Authorization`` header for ``method url`` (its query left out), or None before any LST."""
        address = url.split("?", 1)[0]
        s = self._settings
        if urlsplit(address).path.endswith(LST_PATH):
            params = oauth_params(s.consumer_key, s.access_token, RSA_METHOD)
            a, challenge = dh_challenge(s.dh_prime, s.dh_generator)
            params["diffie_hellman_challenge"] = challenge
            params["oauth_signature"] = rsa_signature(self._signature_key, base_string(method, address, params, self._prepend))
            self._challenge = a  # the handshake holds the lock: one LST request in flight, its last attempt wins
            return authorization_header(s.realm, params)
        lst, self._signed.generation = self._lst, self._generation
        if lst is None:
            return None
        params = oauth_params(s.consumer_key, s.access_token, HMAC_METHOD)
        params["oauth_signature"] = hmac_signature(lst, base_string(method, address, params))
        return authorization_header(s.realm, params)

    # -- the sessions ----------------------------------------------------------------------------

    def session_fresh(self) -> bool:
        """True while the LST has more than an hour left (a tenth of its life when it lives shorter)."""
        if self._lst is None:
            return False
        life = self._lst_expires - self._lst_made
        if life <= 0:
            return True  # IBKR's expiry is already past on our clock (ours runs ahead): renew on its 401 only
        return self._clock() < self._lst_expires - min(REFRESH_AHEAD_SECONDS, life / 10)

    def open_session(self, caller: SessionCalls) -> None:
        """A new LST (reference §1.3 steps 1-9), unless one newer than this thread's refused one exists.

        After IBKR ends the LST, every thread's request in flight is answered 401 and each asks for a
        session: the first gets a new LST, the others retry with it.
        """
        with self._lock:
            signed_with = getattr(self._signed, "generation", None)
            if self._lst is not None and self.session_fresh() and signed_with is not None and signed_with < self._generation:
                return
            self._handshake(caller)

    def _handshake(self, caller: SessionCalls) -> None:
        if self._refusal is not None:
            raise self._refusal
        try:
            body = caller.call_unrecovered("POST", LST_PATH)
        except NotAuthenticated as refused:
            said = f" ({refused.text})" if refused.text else ""
            self._refusal = OAuthRefused(
                f"IBKR refused the OAuth 1.0a live session token request{said}: check {what_to_fix(refused.text)}",
                endpoint=LST_ENDPOINT,
                status=401,
                text=refused.text,
            )
            raise self._refusal from None
        a, self._challenge = self._challenge, None
        lst, expires = self._read_answer(body, a)
        if not lst_matches(lst, self._settings.consumer_key, str(body["live_session_token_signature"])):
            raise OAuthRefused(
                "the live session token does not match IBKR's signature of it: check IBKR_OAUTH1_DH_PRIME and "
                "IBKR_OAUTH1_DH_GENERATOR (the portal's values) and IBKR_OAUTH1_ACCESS_TOKEN_SECRET",
                endpoint=LST_ENDPOINT,
            )
        self._lst, self._lst_made, self._lst_expires = lst, self._clock(), expires
        self._generation += 1
        log.info("IBKR OAuth 1.0a live session token obtained; it expires in %.0f s", expires - self._lst_made)

    def _read_answer(self, body: Any, a: int | None) -> tuple[str, float]:
        """The LST and its expiry (epoch seconds) from IBKR's answer (reference §1.3 step 7)."""
        try:
            response = str(body["diffie_hellman_response"])
            expires = float(body["live_session_token_expiration"]) / 1000  # epoch milliseconds
            str(body["live_session_token_signature"])
        except (KeyError, TypeError, ValueError):
            raise IbkrError(
                "IBKR's live session token answer lacks diffie_hellman_response, live_session_token_signature "
                "or live_session_token_expiration", endpoint=LST_ENDPOINT,
            ) from None
        if a is None:
            raise IbkrError("the live session token answer came without a request of ours", endpoint=LST_ENDPOINT)
        try:
            return live_session_token(response, a, self._settings.dh_prime, self._prepend), expires
        except ValueError:
            raise IbkrError("IBKR's diffie_hellman_response is not hex", endpoint=LST_ENDPOINT) from None

    def open_brokerage(self, caller: SessionCalls) -> None:
        """``ssodh/init`` as after any login (reference §1.3 step 11); on a 401 a new LST, then once more."""
        open_brokerage_renewing(caller, compete=self.compete, status_polls=self._status_polls,
                                poll_seconds=self._poll_seconds, renew=lambda: self.open_session(caller),
                                refused=self._refused)

    @staticmethod
    def _refused(endpoint: str) -> OAuthRefused:
        return OAuthRefused(
            f"IBKR refused the OAuth 1.0a signature on the brokerage session with a new live session token: "
            f"check {_ALL_SETTINGS}",
            endpoint=endpoint,
            status=401,
        )
