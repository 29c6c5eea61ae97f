"""The client's OAuth 1.0a pieces on their own: IBKR's arithmetic, the settings, and what a refusal names.

The handshake against the simulator (which verifies it as IBKR does) is in tests/e2e/test_oauth1_cli.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ibkr_pipelines.client import oauth1_signing as sig
from ibkr_pipelines.client.oauth1 import OAuth1Auth, what_to_fix
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError

# RFC 3526 group 14 would do; a small safe prime keeps the arithmetic checks quick and exact.
PRIME = format(2**521 - 1, "x")  # a Mersenne prime (M521)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def test_the_base_string_is_ibkrs_one_encoding_of_the_sorted_unescaped_pairs() -> None:
    params = {"oauth_token": "tok", "b": "x y", "a": "1/2"}
    base = sig.base_string("post", "https://api.ibkr.com/v1/api/oauth/live_session_token", params, prepend="ab12")
    assert base == ("ab12POST&https%3A%2F%2Fapi.ibkr.com%2Fv1%2Fapi%2Foauth%2Flive_session_token&"
                    + quote_plus("a=1/2&b=x y&oauth_token=tok"))


def test_the_header_quotes_values_without_encoding_them_again() -> None:
    header = sig.authorization_header("limited_poa", {"oauth_signature": "a%2Bb", "oauth_nonce": "n"})
    assert header == 'OAuth realm="limited_poa", oauth_nonce="n", oauth_signature="a%2Bb"'


def test_the_rsa_signature_verifies_with_the_public_half() -> None:
    key = _key()
    signed = sig.rsa_signature(key, "base")
    key.public_key().verify(base64.b64decode(unquote_plus(signed)), b"base", padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("value, length", [(0xFF, 2), (0x7F, 1), (0x0100, 2), (0xFFFF, 3)])
def test_the_dh_key_gets_javas_sign_byte_exactly_when_its_top_bit_is_set(value: int, length: int) -> None:
    assert len(sig._java_bytes(value)) == length
    assert int.from_bytes(sig._java_bytes(value), "big") == value


def test_both_ends_derive_one_lst_and_ibkrs_signature_of_it_checks() -> None:
    prepend = "00ff10"
    a, challenge = sig.dh_challenge(PRIME, 2)
    b = 123456789123456789  # IBKR's side of the exchange
    response = format(pow(2, b, int(PRIME, 16)), "x")
    lst = sig.live_session_token(response, a, PRIME, prepend)
    k = pow(int(challenge, 16), b, int(PRIME, 16))
    theirs = base64.b64encode(hmac.new(sig._java_bytes(k), bytes.fromhex(prepend), hashlib.sha1).digest()).decode()
    assert lst == theirs
    ibkr_says = hmac.new(base64.b64decode(theirs), b"CONSUMER", hashlib.sha1).hexdigest()
    assert sig.lst_matches(lst, "CONSUMER", ibkr_says)
    assert not sig.lst_matches(lst, "OTHER", ibkr_says)


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    encryption = _key()
    secret = base64.b64encode(encryption.public_key().encrypt(b"\x01\x02secret", padding.PKCS1v15())).decode()
    env = {
        "IBKR_AUTH": "oauth1",
        "IBKR_OAUTH1_CONSUMER_KEY": "CONSUMER1",
        "IBKR_OAUTH1_ACCESS_TOKEN": "0123456789abcdef0123",
        "IBKR_OAUTH1_ACCESS_TOKEN_SECRET": secret,
        "IBKR_OAUTH1_SIGNATURE_KEY": str(_pem(_key(), tmp_path / "signature.pem")),
        "IBKR_OAUTH1_ENCRYPTION_KEY": str(_pem(encryption, tmp_path / "encryption.pem")),
        "IBKR_OAUTH1_DH_PRIME": PRIME,
    }
    env.update(overrides)
    return env


def test_oauth1_settings_are_read_and_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    env = _env(tmp_path)
    settings = Settings.from_env(env)
    assert settings.base_url == "https://api.ibkr.com/v1/api" and not settings.uses_simulator
    assert settings.oauth1 is not None and settings.oauth1.realm == "limited_poa"
    for secret in (env["IBKR_OAUTH1_ACCESS_TOKEN"], env["IBKR_OAUTH1_ACCESS_TOKEN_SECRET"], PRIME):
        assert secret not in repr(settings)
    auth = OAuth1Auth(settings.oauth1)
    assert auth._prepend == b"\x01\x02secret".hex()
    assert Settings.from_env(_env(tmp_path, IBKR_OAUTH1_CONSUMER_KEY="TESTCONS")).oauth1.realm == "test_realm"


@pytest.mark.parametrize(
    "change, setting",
    [
        ({"IBKR_OAUTH1_CONSUMER_KEY": ""}, "IBKR_OAUTH1_CONSUMER_KEY"),
        ({"IBKR_OAUTH1_ACCESS_TOKEN": " "}, "IBKR_OAUTH1_ACCESS_TOKEN"),
        ({"IBKR_OAUTH1_SIGNATURE_KEY": "/nowhere/key.pem"}, "IBKR_OAUTH1_SIGNATURE_KEY"),
        ({"IBKR_OAUTH1_DH_PRIME": "0xnothex"}, "IBKR_OAUTH1_DH_PRIME"),
        ({"IBKR_OAUTH1_DH_PRIME": "ff"}, "IBKR_OAUTH1_DH_PRIME"),
        ({"IBKR_OAUTH1_REALM": "everything"}, "IBKR_OAUTH1_REALM"),
        ({"IBKR_AUTH": "oauth3"}, "IBKR_AUTH"),
    ],
)
def test_a_bad_oauth1_setting_is_one_line_naming_it(tmp_path: Path, change: dict[str, str], setting: str) -> None:
    env = _env(tmp_path, **change)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert raised.value.setting == setting
    assert "\n" not in str(raised.value)
    assert env["IBKR_OAUTH1_ACCESS_TOKEN_SECRET"] not in str(raised.value)


def test_keys_that_cannot_be_used_are_named_when_the_authenticator_is_built(tmp_path: Path) -> None:
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello")
    settings = Settings.from_env(_env(tmp_path, IBKR_OAUTH1_SIGNATURE_KEY=str(not_a_key)))
    with pytest.raises(ConfigError, match="IBKR_OAUTH1_SIGNATURE_KEY"):
        OAuth1Auth(settings.oauth1)
    # A secret that is not base64 of one RSA block cannot be decrypted at all.
    settings = Settings.from_env(_env(tmp_path, IBKR_OAUTH1_ACCESS_TOKEN_SECRET="c2hvcnQ="))
    with pytest.raises(ConfigError, match="IBKR_OAUTH1_ACCESS_TOKEN_SECRET"):
        OAuth1Auth(settings.oauth1)
    # A secret encrypted to another key: when the ciphertext is too big for that key's modulus, decryption
    # fails here and says so; otherwise it "decrypts" to noise (OpenSSL's implicit rejection of PKCS#1 v1.5
    # padding) and only IBKR's refusal of the signature shows it (tests/e2e/test_oauth1_cli.py).
    other = _pem(_key(), tmp_path / "other.pem")
    try:
        OAuth1Auth(Settings.from_env(_env(tmp_path, IBKR_OAUTH1_ENCRYPTION_KEY=str(other))).oauth1)
    except ConfigError as refused:
        assert refused.setting == "IBKR_OAUTH1_ACCESS_TOKEN_SECRET" and "IBKR_OAUTH1_ENCRYPTION_KEY" in str(refused)


@pytest.mark.parametrize(
    "text, named",
    [
        ("Invalid Consumer", "IBKR_OAUTH1_CONSUMER_KEY"),
        ("invalid oauth_token", "IBKR_OAUTH1_ACCESS_TOKEN"),
        ("Invalid Token: oauth_token is not this consumer's access token", "IBKR_OAUTH1_ACCESS_TOKEN"),
        ("Invalid Realm: not this consumer's realm", "IBKR_OAUTH1_REALM"),
        ("invalid signature", "IBKR_OAUTH1_SIGNATURE_KEY"),
        ("timestamp out of range", "clock"),
        ("", "IBKR_OAUTH1_CONSUMER_KEY, IBKR_OAUTH1_ACCESS_TOKEN"),
    ],
)
def test_a_refusal_names_what_to_fix(text: str, named: str) -> None:
    assert named in what_to_fix(text)


class _FakeIbkr:
    """IBKR's side of the handshake (reference §1.3 steps 7-9), on a clock the test moves."""

    def __init__(self, auth: OAuth1Auth, prepend: str, clock: list[float], lifetime: float) -> None:
        self.auth, self.prepend, self.clock, self.lifetime = auth, prepend, clock, lifetime
        self.root_url = "https://api.ibkr.com"
        self.handshakes = 0

    def call_unrecovered(self, method: str, path: str, *, json: object = None) -> dict[str, object]:
        """Sign as the transport would, then answer as IBKR does."""
        header = self.auth.authorization(method, self.root_url + "/v1/api" + path)
        assert header is not None
        challenge = header.split('diffie_hellman_challenge="')[1].split('"')[0]
        b, p = 987654321, int(PRIME, 16)
        k = pow(int(challenge, 16), b, p)
        lst = base64.b64encode(hmac.new(sig._java_bytes(k), bytes.fromhex(self.prepend), hashlib.sha1).digest())
        self.handshakes += 1
        return {"diffie_hellman_response": format(pow(2, b, p), "x"),
                "live_session_token_signature": hmac.new(base64.b64decode(lst), b"CONSUMER1", hashlib.sha1).hexdigest(),
                "live_session_token_expiration": int((self.clock[0] + self.lifetime) * 1000)}


def _auth_on_a_clock(tmp_path: Path, lifetime: float) -> tuple[OAuth1Auth, _FakeIbkr, list[float]]:
    settings = Settings.from_env(_env(tmp_path))
    clock = [1_800_000_000.0]
    auth = OAuth1Auth(settings.oauth1, clock=lambda: clock[0])
    return auth, _FakeIbkr(auth, b"\x01\x02secret".hex(), clock, lifetime), clock


def test_the_lst_is_renewed_an_hour_before_it_expires(tmp_path: Path) -> None:
    auth, ibkr, clock = _auth_on_a_clock(tmp_path, lifetime=86_400)
    assert not auth.session_fresh()
    auth.open_session(ibkr)  # type: ignore[arg-type]
    assert auth.session_fresh() and ibkr.handshakes == 1
    clock[0] += 86_400 - 3_601
    assert auth.session_fresh()
    clock[0] += 2
    assert not auth.session_fresh(), "within the last hour: the session keeper asks for a new one"
    auth.open_session(ibkr)  # type: ignore[arg-type]
    assert auth.session_fresh() and ibkr.handshakes == 2
    # Every later request is signed with the new token (HMAC-SHA256, no DH parameter).
    header = auth.authorization("GET", "https://api.ibkr.com/v1/api/portfolio/accounts")
    assert header is not None and 'oauth_signature_method="HMAC-SHA256"' in header and "diffie" not in header


def test_after_a_401_only_the_first_thread_asks_for_a_new_token(tmp_path: Path) -> None:
    auth, ibkr, _clock = _auth_on_a_clock(tmp_path, lifetime=86_400)
    auth.open_session(ibkr)  # type: ignore[arg-type]
    auth.authorization("GET", "https://api.ibkr.com/v1/api/portfolio/accounts")  # this thread signs with LST 1
    auth.open_session(ibkr)  # type: ignore[arg-type]  # its request was refused: LST 2
    assert ibkr.handshakes == 2
    # Another thread's request, signed with LST 1 and refused too, retries with LST 2 instead.
    import threading

    def refused_elsewhere() -> None:
        auth._signed.generation = 1
        auth.open_session(ibkr)  # type: ignore[arg-type]

    worker = threading.Thread(target=refused_elsewhere)
    worker.start()
    worker.join()
    assert ibkr.handshakes == 2
