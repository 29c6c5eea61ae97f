"""OAuth 2.0 as IBKR implements it (reference §1.4): the registered client, the JWS checks, problem+json.

IBKR accepts only ``private_key_jwt`` client authentication (RFC 7521/7523; reference §1.4). A client
registers an RSA public key under a key id; it then signs two JWSs with the private key: the client
assertion of ``POST /oauth2/api/v1/token`` (step 2) and the body of ``POST /gw/api/v1/sso-sessions``
(step 4). This module holds the pure parts: the registered client, the constants, reading and
and verifying a JWS with PyJWT (IBKR's RFC 9457 error body is made by the gate). The state (tokens issued, jti seen,
counters) is oauth2_gate.OAuth2Gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_pipelines.simulator.oauth1 import load_rsa_public_key

TOKEN_PATH = "/oauth2/api/v1/token"  # reference §1.4 step 1 (root /oauth2, outside /v1/api)
AM_ROOT = "/gw/api/v1"  # reference §3: the Account Management API root
SSO_SESSIONS_PATH = AM_ROOT + "/sso-sessions"  # reference §1.4 step 4
GRANT_TYPE = "client_credentials"  # reference §1.4 step 1
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # reference §1.4 step 1
ALGORITHM = "RS256"  # reference §1.4 step 2: header {"alg":"RS256","typ":"JWT","kid":...}
# Reference §1.4 step 2: aud="/token" is ibauth's choice (ibkr-oauth-flow const.py agrees). RFC 7523
# §3 lets the audience be the token endpoint's URL, so that is accepted too (token_audiences).
AUDIENCE = "/token"
SSO_SCOPE = "sso-sessions.write"  # reference §1.4 step 1: the scope for trading
# Reference §3.1's scope table plus sso-sessions.write; a token request for any other scope is refused.
KNOWN_SCOPES = frozenset({
    SSO_SCOPE, "statements.read", "statements.write", "reports.read", "reports.write", "transfers.read",
    "transfers.write", "instructions.read", "accounts.write", "sso-browser-sessions.write",
    "fee-templates.write", "echo.read", "echo.write",
})
# guess: how far ahead a client assertion's exp may lie. ibauth uses exp=now+20 (reference §1.4 step 2);
# IBKR publishes no maximum. 300 s keeps a leaked assertion short-lived and lets every known client through.
ASSERTION_MAX_SECONDS = 300.0
# guess: the allowed clock skew for iat (reference §1.4 step 2: "the allowed skew is unverified").
# ibauth sends iat=now-10, so a past iat is fine; iat more than this far in the future is refused.
IAT_SKEW_SECONDS = 60.0
# guess: the simulated login's IB username (api.USER_NAME; not imported: api imports config, which
# imports this module). An SSO session's ``credential`` must name the client's registered username.
DEFAULT_CREDENTIAL = "simuser7"
# guess: what a client id or key id may hold; IBKR's form is not public. Anything printable without
# spaces or quotes (ibauth's example kid is "main").
_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


@dataclass(frozen=True)
class OAuth2Client:
    """A registered OAuth 2.0 client: its id, its public key under a key id, the IB username it acts for."""

    client_id: str
    key_id: str
    public_pem: bytes = field(repr=False)
    credential: str = DEFAULT_CREDENTIAL  # the IB username of the SSO session (reference §1.4 step 4)

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.client_id):
            raise ValueError(f"client id must be 1-128 letters, digits or _.:- characters, got {self.client_id!r}")
        if not _ID.fullmatch(self.key_id):
            raise ValueError(f"key id must be 1-128 letters, digits or _.:- characters, got {self.key_id!r}")
        if not self.credential or not self.credential.strip():
            raise ValueError("credential (the IB username) must not be empty")
        self.public_key()

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA key RS256 signatures of this client's JWSs are checked with."""
        return load_rsa_public_key(self.public_pem, f"the public key of OAuth 2.0 client {self.client_id}")


def client_from_file(client_id: str, key_id: str | None, pem_path: str | None,
                     credential: str | None = None) -> OAuth2Client:
    """A client from its id, key id and public key PEM path; ValueError with one readable line."""
    if not key_id:
        raise ValueError(f"OAuth 2.0 client {client_id}: the key id (--key-id) is missing")
    if not pem_path:
        raise ValueError(f"OAuth 2.0 client {client_id}: the public key PEM file (--public-key) is missing")
    try:
        pem = Path(pem_path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the public key {pem_path}: {exc.strerror or exc}") from None
    load_rsa_public_key(pem, f"the public key {pem_path}")
    return OAuth2Client(client_id, key_id, pem, credential or DEFAULT_CREDENTIAL)


def token_audiences(token_url: str) -> list[str]:
    """The ``aud`` values a client assertion may carry: "/token" (ibauth) or the token URL (RFC 7523 §3)."""
    return [AUDIENCE, token_url, "https://api.ibkr.com" + TOKEN_PATH]


def read_jws(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS, unverified, to find the key it claims; ValueError when unreadable."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(claims, dict):
        raise ValueError("the claims are not a JSON object")
    return header, claims


def signature_valid(token: str, key: rsa.RSAPublicKey) -> bool:
    """Whether ``token`` is an RS256 JWS signed by ``key`` (PyJWT; only RS256 accepted, so no alg=none)."""
    try:
        # Claims are judged by the gate against its own wall clock (one clock for every check), so
        # PyJWT checks the signature only.
        jwt.decode(token, key, algorithms=[ALGORITHM],
                   options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                            "verify_iss": False, "verify_sub": False, "verify_jti": False})
    except jwt.PyJWTError:
        return False
    return True


def verify_client_jws(body: str, client: OAuth2Client) -> tuple[str | None, dict[str, Any]]:
    """(None, claims) for a compact RS256 JWS signed by ``client``'s registered key, else (reason, {}).

    The check of every JWS a client signs after its assertion: the SSO session body (reference §1.4
    step 4) and Account Management "Signed JWT" bodies (§3.1). Reasons: ``malformed``,
    ``unsupported_alg``, ``unknown_kid``, ``bad_signature``; the claims themselves are the caller's to judge.
    """
    try:
        header, claims = read_jws(body)
    except ValueError:
        return "malformed", {}
    if header.get("alg") != ALGORITHM:
        return "unsupported_alg", {}
    # guess: ibauth sends the kid (its _compute_jws adds it to every JWS); a JWS without one is
    # checked against the client's key all the same.
    if "kid" in header and header["kid"] != client.key_id:
        return "unknown_kid", {}
    if not signature_valid(body, client.public_key()):
        return "bad_signature", {}
    return None, claims


def audience_ok(claims: dict[str, Any], audiences: list[str]) -> bool:
    """Whether ``aud`` (a string or a list, RFC 7519 §4.1.3) names one of ``audiences``."""
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(isinstance(v, str) and v in audiences for v in values)


def numeric(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim as seconds, or None when absent or not a number (RFC 7519 §2)."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def scopes_of(text: str) -> tuple[str, ...]:
    """The scopes of a space-separated ``scope`` value, in order, without repeats (RFC 6749 §3.3)."""
    return tuple(dict.fromkeys(text.split()))
