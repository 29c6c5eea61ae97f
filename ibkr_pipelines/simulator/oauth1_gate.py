"""The OAuth 1.0a gate in front of /v1/api: registered consumers, live session tokens, nonces, refusals.

When at least one consumer is registered the simulator stands in for ``api.ibkr.com`` with OAuth
(reference §1.1): every /v1/api request must be signed. ``check`` judges one request:

- ``POST /oauth/live_session_token``: RSA-SHA256 over the base string with the prepend (reference §1.3
  steps 1-6); on success a new LST is made and the answer of step 7 returned.
- everything else: HMAC-SHA256 keyed by a live LST of the consumer (step 10).

Either may be signed over the base string with or without the query parameters (reference §1.3
quirks: which one IBKR checks is unverified, so both are accepted). Every refusal is a 401 (reference
§1.3 quirks, §6). Only "Invalid Consumer" is IBKR's text (reference §1.3 quirks); the others are
guesses, each distinct so a client can tell its user which setting to fix. Their shape
``{"error": ..., "statusCode": 401}`` is IBKR's usual one; guess backed by two live bodies outside the
reference (nsirons/ibkr_web_client #4 ``"id: 39687, error: invalid consumer"``, Voyz/ibind #113).

Clocks: wall-clock seconds (``time.time()``) passed in by the caller, so timestamps, LST expiry and
``live_session_token_expiration`` agree with each other and with a client under the same libfaketime.
No secret (LST, secret, signature, DH value) is ever put in a reply text, a counter or a log.
"""

from __future__ import annotations

import base64
import collections
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ibkr_pipelines.simulator.api import Reply, error
from ibkr_pipelines.simulator.oauth1 import (
    DH_GENERATOR,
    DH_PRIME,
    OAuth1Consumer,
    OAuth1Credentials,
    access_token_for,
    base_string,
    hmac_signature,
    issue_credentials,
    live_session_token,
    lst_signature,
    parse_authorization,
    rsa_signature_valid,
    secret_for,
    signature_bytes,
)

LST_PATH = "/oauth/live_session_token"  # reference §1.3: "POST oauth/live_session_token", empty body
RSA_METHOD = "RSA-SHA256"  # reference §1.3 step 3
HMAC_METHOD = "HMAC-SHA256"  # reference §1.3 step 10
# guess: how far oauth_timestamp may stray from the server's clock; IBKR publishes no number. 300 s is
# the usual OAuth server tolerance.
TIMESTAMP_SKEW_SECONDS = 300.0
# guess: a new LST does not revoke older ones at once (ibind just fetches a new one, IbkrConduit renews
# an hour early); the consumer's last few stay live until they expire, older ones are replaced.
LIVE_LSTS_KEPT = 3
_DEAD_LSTS_KEPT = 16  # ended LSTs remembered only to tell "expired" from "invalid signature"
_REQUIRED = ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method",
             "oauth_timestamp", "oauth_token")

# reason -> 401 body text. Only "Invalid Consumer" is IBKR's (reference §1.3 quirks); the rest: guess.
REFUSALS = {
    "unsigned": "Not Authenticated: no OAuth Authorization header (every request must be OAuth-signed)",
    "malformed": "Malformed OAuth Authorization header",
    "invalid_consumer": "Invalid Consumer",
    "invalid_realm": "Invalid Realm: not this consumer's realm",
    "invalid_token": "Invalid Token: oauth_token is not this consumer's access token",
    "invalid_signature_method": "Invalid Signature Method: RSA-SHA256 for the live session token, HMAC-SHA256 after",
    "timestamp_out_of_range": "Invalid Timestamp: oauth_timestamp is too far from the server's clock",
    "invalid_signature": "Invalid Signature",
    "nonce_reused": "Invalid Nonce: oauth_nonce was already used",
    "invalid_dh_challenge": "Invalid Diffie-Hellman Challenge",
    "no_live_session_token": "No Live Session Token: request one at /oauth/live_session_token",
    "lst_expired": "Live Session Token Expired",
    "lst_replaced": "Live Session Token Replaced: a newer one was issued",
}


@dataclass
class _Lst:
    key: bytes
    expires: float  # wall-clock seconds
    ended: str | None = None  # None while live; "lst_expired" or "lst_replaced" once dead


@dataclass
class _Consumer:
    consumer: OAuth1Consumer
    credentials: OAuth1Credentials
    access_token: str
    prepend: str  # hex of the secret's plaintext (reference §1.3 step 1)
    live: list[_Lst] = field(default_factory=list)
    dead: collections.deque[_Lst] = field(default_factory=lambda: collections.deque(maxlen=_DEAD_LSTS_KEPT))
    nonce_order: collections.deque[tuple[float, str]] = field(default_factory=collections.deque)
    nonces: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Verdict:
    """The gate's judgement: a 401 to send, the LST endpoint's answer, or None of both (go on to the routes)."""

    refusal: Reply | None = None
    reply: Reply | None = None  # the LST endpoint's answer (routed by nobody else)

    @property
    def passed(self) -> bool:
        """True when the request was validly signed (the session may serve it)."""
        return self.refusal is None


class OAuth1Gate:
    """Thread-safe registry of consumers and their LSTs; judges every /v1/api request in OAuth mode."""

    def __init__(self, seed: int, lst_seconds: float = 86400.0,
                 skew_seconds: float = TIMESTAMP_SKEW_SECONDS) -> None:
        self.seed = seed
        self.lst_seconds = lst_seconds
        self.skew_seconds = skew_seconds
        self._lock = threading.Lock()
        self._consumers: dict[str, _Consumer] = {}
        self._issued = 0
        self._accepted = 0
        self._refusals: dict[str, int] = {}
        # Not IBKR: a test hook told every LST issued, so a secret scan can look for it (--secrets-out).
        self.on_secret: Callable[[str], None] | None = None

    # -- registration (the self-service portal) --
    @property
    def active(self) -> bool:
        """True once a consumer is registered: every /v1/api request must then be OAuth-signed."""
        return bool(self._consumers)

    def register(self, consumer: OAuth1Consumer) -> OAuth1Credentials:
        """Register (or re-register with new keys) a consumer and return its credentials."""
        creds = issue_credentials(self.seed, consumer)
        key = consumer.consumer_key
        entry = _Consumer(consumer, creds, access_token_for(self.seed, key), secret_for(self.seed, key).hex())
        with self._lock:
            old = self._consumers.get(key)
            if old is not None:  # same token and secret (seeded): its LSTs stay valid
                entry.live, entry.dead = old.live, old.dead
                entry.nonce_order, entry.nonces = old.nonce_order, old.nonces
            self._consumers[key] = entry
        return creds

    def credentials(self) -> dict[str, OAuth1Credentials]:
        """The credentials handed out, by consumer key (in registration order)."""
        with self._lock:
            return {k: c.credentials for k, c in self._consumers.items()}

    # -- lifetime of LSTs --
    def any_live(self, now: float) -> bool:
        """Whether any consumer holds an LST that has not expired at ``now`` (the Web API session's lifeline)."""
        with self._lock:
            return any(self._sweep(c, now) for c in self._consumers.values())

    def expire_all(self, now: float) -> None:
        """Every live LST expires now (``POST /sim/expire-oauth``)."""
        with self._lock:
            for c in self._consumers.values():
                for lst in c.live:
                    lst.expires = min(lst.expires, now)
                self._sweep(c, now)

    def _sweep(self, c: _Consumer, now: float) -> list[_Lst]:
        """Move the consumer's expired LSTs to its dead ones; returns the live ones (lock held)."""
        for lst in [x for x in c.live if x.expires <= now]:
            lst.ended = "lst_expired"
            c.live.remove(lst)
            c.dead.append(lst)
        return c.live

    # -- judging a request --
    def check(self, method: str, url: str, path: str, query: list[tuple[str, str]],
              authorization: str | None, now: float) -> Verdict:
        """Judge one /v1/api request (``path`` relative to /v1/api, ``url`` as the client called it, no query)."""
        with self._lock:
            reason, reply = self._judge(method.upper(), url, path, query, authorization, now)
            if reason is None:
                self._accepted += 1
                return Verdict(reply=reply)
            self._refusals[reason] = self._refusals.get(reason, 0) + 1
            return Verdict(refusal=error(401, REFUSALS[reason]))

    def _judge(self, method: str, url: str, path: str, query: list[tuple[str, str]],
               authorization: str | None, now: float) -> tuple[str | None, Reply | None]:
        """(refusal reason, None) or (None, the LST answer or None); the lock is held."""
        if not authorization or not authorization.strip():
            return "unsigned", None  # reference §6: not authenticated -> 401 on any endpoint
        try:
            realm, params = parse_authorization(authorization)
        except ValueError:
            return "malformed", None
        if any(not params.get(name) for name in _REQUIRED):
            return "malformed", None
        c = self._consumers.get(params["oauth_consumer_key"])
        if c is None:
            return "invalid_consumer", None  # reference §1.3 quirks: 401 "Invalid Consumer"
        if realm != c.consumer.realm:
            return "invalid_realm", None  # reference §1.3: limited_poa, or test_realm for TESTCONS
        if not hmac.compare_digest(params["oauth_token"].encode(), c.access_token.encode()):
            return "invalid_token", None
        lst_request = path == LST_PATH
        if params["oauth_signature_method"] != (RSA_METHOD if lst_request else HMAC_METHOD):
            return "invalid_signature_method", None  # reference §1.3 steps 3 and 10
        try:
            stamp = int(params["oauth_timestamp"])  # reference §1.3 step 3: Unix seconds
        except ValueError:
            return "malformed", None
        if abs(stamp - now) > self.skew_seconds:
            return "timestamp_out_of_range", None
        try:
            signature = signature_bytes(params["oauth_signature"])
        except ValueError:
            signature = b""  # not base64: it matches nothing below
        signed = [(k, v) for k, v in params.items() if k != "oauth_signature"]
        bases = (signed, signed + query) if query else (signed,)
        if lst_request:
            challenge = params.get("diffie_hellman_challenge")
            if not challenge:
                return "malformed", None  # reference §1.3 step 2: the LST request carries the challenge
            key = c.consumer.signature_key()
            if not any(rsa_signature_valid(key, signature, base_string(method, url, ps, c.prepend)) for ps in bases):
                return "invalid_signature", None
            reason = self._use_nonce(c, params["oauth_nonce"], now)
            if reason is not None:
                return reason, None
            return self._issue(c, challenge, now)
        reason = self._hmac_reason(c, signature, [base_string(method, url, ps) for ps in bases], now)
        if reason is not None:
            return reason, None
        return self._use_nonce(c, params["oauth_nonce"], now), None

    def _hmac_reason(self, c: _Consumer, signature: bytes, bases: list[str], now: float) -> str | None:
        """None when a live LST of the consumer signed one of the bases; else why not (lock held)."""
        live = self._sweep(c, now)

        def signed_by(lst: _Lst) -> bool:
            return any(hmac.compare_digest(hmac_signature(lst.key, b), signature) for b in bases)

        if any(signed_by(lst) for lst in live):
            return None
        for lst in reversed(c.dead):
            if signed_by(lst):
                return lst.ended  # a known LST that ended: renew it
        return "invalid_signature" if live else "no_live_session_token"

    def _use_nonce(self, c: _Consumer, nonce: str, now: float) -> str | None:
        """Refuse a nonce the consumer used within the replay window, else remember it (lock held)."""
        # A request is accepted only within the skew of its timestamp, so a replay can succeed at most
        # 2 x skew after the first use: nonces are kept that long, per consumer.
        horizon = now - 2 * self.skew_seconds
        while c.nonce_order and c.nonce_order[0][0] < horizon:
            c.nonces.discard(c.nonce_order.popleft()[1])
        if nonce in c.nonces:
            return "nonce_reused"
        c.nonces.add(nonce)
        c.nonce_order.append((now, nonce))
        return None

    def _issue(self, c: _Consumer, challenge: str, now: float) -> tuple[str | None, Reply | None]:
        """A new LST from the client's DH value A: the answer of reference §1.3 step 7 (lock held)."""
        try:
            a_value = int(challenge, 16)  # reference §1.3 step 2: lowercase hex without 0x
        except ValueError:
            return "invalid_dh_challenge", None
        if not 1 < a_value < DH_PRIME - 1:
            return "invalid_dh_challenge", None  # 0, 1 and p-1 would fix the shared secret
        b_secret = secrets.randbits(256)  # the server's half, like the client's 256-bit a (step 2)
        b_value = pow(DH_GENERATOR, b_secret, DH_PRIME)
        lst = live_session_token(pow(a_value, b_secret, DH_PRIME), bytes.fromhex(c.prepend))  # step 8
        expires = now + self.lst_seconds  # reference §1.3 step 7: valid 24 h by default
        live = self._sweep(c, now)
        live.append(_Lst(lst, expires))
        if self.on_secret is not None:  # as a client holds it (base64, reference §1.3 step 8) and as hex
            self.on_secret(base64.b64encode(lst).decode("ascii"))
            self.on_secret(lst.hex())
        while len(live) > LIVE_LSTS_KEPT:
            old = live.pop(0)
            old.ended = "lst_replaced"
            c.dead.append(old)
        self._issued += 1
        return None, Reply(200, {
            "diffie_hellman_response": format(b_value, "x"),
            "live_session_token_signature": lst_signature(lst, c.consumer.consumer_key),
            "live_session_token_expiration": int(expires * 1000),  # epoch milliseconds
        })

    # -- counters --
    def stats(self) -> dict[str, Any]:
        """Counters for ``Simulator.stats()["oauth1"]``: no key, token, LST or signature, only counts."""
        with self._lock:
            return {"consumers": len(self._consumers), "lst_issued": self._issued,
                    "signed_requests": self._accepted, "refusals": dict(self._refusals)}

    def reset_stats(self) -> None:
        """Forget the counters (registrations, LSTs and nonces stay)."""
        with self._lock:
            self._issued = 0
            self._accepted = 0
            self._refusals = {}
