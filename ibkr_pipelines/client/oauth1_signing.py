"""IBKR's OAuth 1.0a arithmetic: the base string, both signatures, the DH exchange and the live session token.

Everything here follows reference §1.3 ("Live Session Token (LST) handshake"), step by step. oauthlib's
RFC 5849 signer cannot be used for it: IBKR prepends the decrypted secret to the base string, signs a
Diffie-Hellman challenge as an OAuth parameter, percent-encodes the joined parameter string once
instead of each key and value, and keys HMAC with the raw bytes of the LST (reference §1.3 "What
standard libraries can and cannot do"). oauthlib supplies the nonces and timestamps; ``cryptography``
does RSA. Pure functions, no I/O: the authenticator (``oauth1.py``) holds the state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Mapping
from urllib.parse import quote_plus

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from oauthlib.common import generate_timestamp, generate_token

LST_PATH = "/oauth/live_session_token"
RSA_METHOD = "RSA-SHA256"
HMAC_METHOD = "HMAC-SHA256"


def decrypt_prepend(access_token_secret: str, encryption_key: rsa.RSAPrivateKey) -> str:
    """Step 1: the access-token secret, base64-decoded and RSA-decrypted (PKCS#1 v1.5), as hex."""
    return encryption_key.decrypt(base64.b64decode(access_token_secret), padding.PKCS1v15()).hex()


def dh_challenge(prime_hex: str, generator: int) -> tuple[int, str]:
    """Step 2: a random 256-bit secret ``a`` and ``A = g^a mod p`` as lowercase hex without ``0x``."""
    a = secrets.randbits(256)
    return a, format(pow(generator, a, int(prime_hex, 16)), "x")


def oauth_params(consumer_key: str, access_token: str, method: str) -> dict[str, str]:
    """Step 3: the OAuth parameters every request carries (a fresh nonce and timestamp in seconds)."""
    return {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": generate_token(16),  # 16 random alphanumerics, as ibind sends (reference §1.3 step 3)
        "oauth_signature_method": method,
        "oauth_timestamp": generate_timestamp(),
        "oauth_token": access_token,
    }


def base_string(method: str, url: str, params: Mapping[str, str], prepend: str = "") -> str:
    """Step 4: ``prepend + METHOD & quote_plus(url) & quote_plus(sorted k=v joined by &)``, values unescaped."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(joined)}"


def rsa_signature(signature_key: rsa.RSAPrivateKey, base: str) -> str:
    """Step 5: quote_plus(base64(RSA-PKCS1v15-SHA256(base))), for the LST request."""
    signed = signature_key.sign(base.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return quote_plus(base64.b64encode(signed).decode("ascii"))


def hmac_signature(live_session_token: str, base: str) -> str:
    """Step 10: quote_plus(base64(HMAC-SHA256(key=base64decode(LST), base))), for every later request."""
    digest = hmac.new(base64.b64decode(live_session_token), base.encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def authorization_header(realm: str, params: Mapping[str, str]) -> str:
    """Step 6: ``OAuth realm="...", k="v", ...`` sorted by key; values quoted, not encoded again."""
    pairs = ", ".join(f'{k}="{params[k]}"' for k in sorted(params))
    return f'OAuth realm="{realm}", {pairs}'


def _java_bytes(value: int) -> bytes:
    """Step 8: big-endian bytes of ``value`` with Java BigInteger's sign byte when the top bit is set."""
    length = value.bit_length() // 8 + 1  # a whole extra byte exactly when bit_length is a multiple of 8
    return value.to_bytes(length, "big")


def live_session_token(dh_response_hex: str, a: int, prime_hex: str, prepend: str) -> str:
    """Step 8: ``K = B^a mod p``; the LST is base64(HMAC-SHA1(key=K bytes, msg=bytes.fromhex(prepend)))."""
    k = pow(int(dh_response_hex, 16), a, int(prime_hex, 16))
    digest = hmac.new(_java_bytes(k), bytes.fromhex(prepend), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def lst_matches(live_session_token: str, consumer_key: str, signature_hex: str) -> bool:
    """Step 9: hex(HMAC-SHA1(key=base64decode(LST), consumer_key)) equals IBKR's ``live_session_token_signature``."""
    mine = hmac.new(base64.b64decode(live_session_token), consumer_key.encode("utf-8"), hashlib.sha1).hexdigest()
    return hmac.compare_digest(mine, signature_hex.lower())
