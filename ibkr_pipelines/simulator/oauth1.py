"""OAuth 1.0a as IBKR implements it (reference §1.3): the credentials its portal hands out, and the arithmetic.

What the self-service portal does (reference §1.3 "Credentials and configuration"): the user hands over
two RSA public keys (signature, encryption) and gets back a consumer key, an access token, an access
token secret (RSA-encrypted to the encryption key, base64), a Diffie-Hellman prime and generator, and
a realm. ``issue_credentials`` plays that part; the rest of this module is the protocol's pure
functions (the Authorization header, IBKR's base string, the live session token). The state that
checks requests against them (consumers, live session tokens, nonces) is oauth1_gate.OAuth1Gate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Reference §1.3: "realm is "limited_poa", or "test_realm" when using TESTCONS".
DEFAULT_REALM = "limited_poa"
TEST_REALM = "test_realm"
TEST_CONSUMER = "TESTCONS"
DH_GENERATOR = 2  # reference §1.3: "dh_generator, default 2"
# guess: IBKR issues a 2048-bit prime per consumer (reference §1.3: "the hex form of a 2048-bit prime
# with no 0x"); which one it is is nowhere public, so every consumer here gets RFC 3526 group 14's MODP
# prime (a well-known safe prime of that size), in lowercase hex without 0x.
DH_PRIME_HEX = (
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404dd"
    "ef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed"
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f"
    "83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b"
    "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa0510"
    "15728e5a8aacaa68ffffffffffffffff"
)
DH_PRIME = int(DH_PRIME_HEX, 16)
# guess: 20 hex characters, the form of the onboarding flow's oauth_token (reference §1.3 "Third-party
# onboarding steps": {"oauth_token":"e0d75b4c5c1d2c0f2af7"}); the portal's own tokens are not shown.
ACCESS_TOKEN_BYTES = 10
# guess: the secret's plaintext length is not public (only its hex, the prepend, is used); 32 bytes.
SECRET_BYTES = 32
# guess: what a consumer key may hold. Real ones are short upper-case words (TESTCONS, 9-character keys
# in nsirons/ibkr_web_client #5); here anything that survives a quoted header value unchanged.
_CONSUMER_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HEADER_PAIR = re.compile(r'\s*([A-Za-z0-9_]+)="([^"]*)"\s*(?:,|$)')

ENV_KEYS = ("IBKR_OAUTH1_CONSUMER_KEY", "IBKR_OAUTH1_ACCESS_TOKEN", "IBKR_OAUTH1_ACCESS_TOKEN_SECRET",
            "IBKR_OAUTH1_DH_PRIME", "IBKR_OAUTH1_DH_GENERATOR", "IBKR_OAUTH1_REALM")


def load_rsa_public_key(pem: bytes, what: str) -> rsa.RSAPublicKey:
    """The RSA public key in ``pem``, or ValueError naming ``what`` (the portal accepts RSA keys only)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} is not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{what} is not an RSA public key")
    return key


@dataclass(frozen=True)
class OAuth1Consumer:
    """A consumer as registered at IBKR's self-service portal: its key and the two public keys handed over."""

    consumer_key: str
    signature_public_pem: bytes = field(repr=False)
    encryption_public_pem: bytes = field(repr=False)
    realm: str = DEFAULT_REALM

    def __post_init__(self) -> None:
        if not _CONSUMER_KEY.fullmatch(self.consumer_key):
            raise ValueError(f"consumer key must be 1-64 letters, digits or _.- characters, got {self.consumer_key!r}")
        if self.consumer_key == TEST_CONSUMER and self.realm == DEFAULT_REALM:
            object.__setattr__(self, "realm", TEST_REALM)  # reference §1.3: TESTCONS uses test_realm
        if not self.realm or '"' in self.realm:
            raise ValueError(f"realm must be a non-empty word, got {self.realm!r}")
        self.signature_key()
        self.encryption_key()

    def signature_key(self) -> rsa.RSAPublicKey:
        """The key RSA-SHA256 signatures of live session token requests are checked with."""
        return load_rsa_public_key(self.signature_public_pem, "the signature public key")

    def encryption_key(self) -> rsa.RSAPublicKey:
        """The key the access token secret is encrypted to (the consumer decrypts it with its private key)."""
        return load_rsa_public_key(self.encryption_public_pem, "the encryption public key")


@dataclass(frozen=True)
class OAuth1Credentials:
    """What the portal hands back to a registered consumer (reference §1.3 "Values from the self-service portal")."""

    consumer_key: str
    access_token: str
    access_token_secret: str = field(repr=False)  # base64 of the RSA PKCS#1 v1.5 ciphertext
    dh_prime: str = field(repr=False)  # hex, no 0x
    dh_generator: int = DH_GENERATOR
    realm: str = DEFAULT_REALM

    def as_env(self) -> dict[str, str]:
        """The credentials as the ``IBKR_OAUTH1_*`` settings a client reads (exactly ENV_KEYS)."""
        values = (self.consumer_key, self.access_token, self.access_token_secret, self.dh_prime,
                  str(self.dh_generator), self.realm)
        return dict(zip(ENV_KEYS, values))


def consumer_from_files(consumer_key: str, signature_pem_path: str | None, encryption_pem_path: str | None,
                        realm: str | None = None) -> OAuth1Consumer:
    """A consumer from its key and the paths of its two public key PEMs; ValueError with one readable line."""
    pems: list[bytes] = []
    for path, what in ((signature_pem_path, "signature"), (encryption_pem_path, "encryption")):
        if not path:
            raise ValueError(f"OAuth consumer {consumer_key}: the {what} public key PEM file is missing")
        try:
            pem = Path(path).read_bytes()
            load_rsa_public_key(pem, f"the {what} public key {path}")
        except OSError as exc:
            raise ValueError(f"cannot read the {what} public key {path}: {exc.strerror or exc}") from None
        pems.append(pem)
    return OAuth1Consumer(consumer_key, pems[0], pems[1], realm or DEFAULT_REALM)


def _derive(seed: int, consumer_key: str, label: str, size: int) -> bytes:
    """``size`` bytes fixed by (seed, consumer key, label): a restarted simulator honours the same credentials."""
    digest = hmac.new(f"ibkr-sim-oauth1/{seed}".encode(), f"{label}/{consumer_key}".encode(), hashlib.sha256)
    return digest.digest()[:size]


def access_token_for(seed: int, consumer_key: str) -> str:
    """The consumer's access token (20 hex characters, see ACCESS_TOKEN_BYTES)."""
    return _derive(seed, consumer_key, "access_token", ACCESS_TOKEN_BYTES).hex()


def secret_for(seed: int, consumer_key: str) -> bytes:
    """The plaintext of the consumer's access token secret; its hex is the prepend (reference §1.3 step 1)."""
    return _derive(seed, consumer_key, "access_token_secret", SECRET_BYTES)


def issue_credentials(seed: int, consumer: OAuth1Consumer) -> OAuth1Credentials:
    """The portal's answer to a registration: the secret is encrypted afresh (PKCS#1 v1.5 is randomized)."""
    # Reference §1.3 step 1 read backwards: the client base64-decodes the secret and decrypts it with
    # RSA PKCS#1 v1.5 using its private encryption key, so the portal encrypts it to the public one.
    cipher = consumer.encryption_key().encrypt(secret_for(seed, consumer.consumer_key), padding.PKCS1v15())
    return OAuth1Credentials(consumer.consumer_key, access_token_for(seed, consumer.consumer_key),
                             base64.b64encode(cipher).decode("ascii"), DH_PRIME_HEX, DH_GENERATOR, consumer.realm)


def parse_authorization(header: str) -> tuple[str | None, dict[str, str]]:
    """(realm, other parameters) of ``OAuth realm="...", k="v", ...`` (reference §1.3 step 6); else ValueError."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth" or not rest.strip():
        raise ValueError("not an OAuth Authorization header")
    params: dict[str, str] = {}
    pos, text = 0, rest.strip()
    while pos < len(text):
        m = _HEADER_PAIR.match(text, pos)
        if m is None:
            raise ValueError("Authorization header is not a list of key=\"value\" pairs")
        if m.group(1) in params:
            raise ValueError(f"Authorization header repeats {m.group(1)}")
        params[m.group(1)] = m.group(2)
        pos = m.end()
    realm = params.pop("realm", None)
    return realm, params


def base_string(method: str, url: str, params: list[tuple[str, str]], prepend: str = "") -> str:
    """IBKR's base string (reference §1.3 step 4): prepend + METHOD & quote_plus(url) & quote_plus(sorted k=v)."""
    # The k=v pairs are not escaped one by one; the joined string is quote_plus'ed once.
    pairs = "&".join(f"{k}={v}" for k, v in sorted(params))
    return f"{prepend}{method.upper()}&{quote_plus(url)}&{quote_plus(pairs)}"


def signature_bytes(value: str) -> bytes:
    """The raw signature in an ``oauth_signature`` value: quote_plus'ed base64 (reference §1.3 steps 5, 10)."""
    return base64.b64decode(unquote_plus(value), validate=True)


def rsa_signature_valid(key: rsa.RSAPublicKey, signature: bytes, base: str) -> bool:
    """Whether ``signature`` is RSA PKCS#1 v1.5 SHA-256 over ``base`` (reference §1.3 step 5)."""
    try:
        key.verify(signature, base.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def hmac_signature(lst: bytes, base: str) -> bytes:
    """HMAC-SHA256 keyed by the LST's bytes over ``base``: requests after the handshake (reference §1.3 step 10)."""
    return hmac.new(lst, base.encode("utf-8"), hashlib.sha256).digest()


def java_bytes(value: int) -> bytes:
    """Big-endian bytes of a positive int as Java's BigInteger.toByteArray writes them (reference §1.3 step 8)."""
    # A leading 0x00 sign byte whenever the bit length is a multiple of 8 (ibind ``to_byte_array``).
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def live_session_token(shared: int, secret: bytes) -> bytes:
    """The LST's 20 bytes: HMAC-SHA1 keyed by the DH shared secret K over the secret (reference §1.3 step 8)."""
    return hmac.new(java_bytes(shared), secret, hashlib.sha1).digest()


def lst_signature(lst: bytes, consumer_key: str) -> str:
    """``live_session_token_signature``: hex HMAC-SHA1 of the consumer key keyed by the LST (reference §1.3 step 9)."""
    return hmac.new(lst, consumer_key.encode("utf-8"), hashlib.sha1).hexdigest()
