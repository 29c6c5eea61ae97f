"""OAuth 1.0a in the simulator, checked by a small reference client written here from reference §1.3.

The client below follows the protocol text of ``shared/ibkr-web-api.md`` §1.3 step by step; it shares
no code with the simulator nor with ``ibkr_pipelines.client``. RSA keys are generated at test time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import stat
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote_plus, unquote_plus

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ibkr_pipelines.simulator import OAuth1Consumer, OAuth1Credentials, Simulator, SimulatorConfig
from ibkr_pipelines.simulator.oauth1_gate import OAuth1Gate

from .conftest import LENIENT, TODAY, _env, _free_port

EXE = Path(sys.executable).with_name("ibkr-pipelines")
ENV_KEYS = {"IBKR_OAUTH1_CONSUMER_KEY", "IBKR_OAUTH1_ACCESS_TOKEN", "IBKR_OAUTH1_ACCESS_TOKEN_SECRET",
            "IBKR_OAUTH1_DH_PRIME", "IBKR_OAUTH1_DH_GENERATOR", "IBKR_OAUTH1_REALM"}
KEY = "SIMCONS01"


# -- the reference client (reference §1.3 "Live Session Token (LST) handshake") --
class RefClient:
    """OAuth 1.0a as the reference describes it: prepend, DH, IBKR's base string, RSA then HMAC signatures."""

    def __init__(self, env: dict[str, str], signature_key: rsa.RSAPrivateKey, encryption_key: rsa.RSAPrivateKey,
                 base_url: str, http: requests.Session, verify: Any = True) -> None:
        self.consumer_key = env["IBKR_OAUTH1_CONSUMER_KEY"]
        self.token = env["IBKR_OAUTH1_ACCESS_TOKEN"]
        self.prime = int(env["IBKR_OAUTH1_DH_PRIME"], 16)
        self.generator = int(env["IBKR_OAUTH1_DH_GENERATOR"])
        self.realm = env["IBKR_OAUTH1_REALM"]
        # Step 1: base64-decode the secret, decrypt it (PKCS#1 v1.5), hex of the plaintext is the prepend.
        secret = encryption_key.decrypt(base64.b64decode(env["IBKR_OAUTH1_ACCESS_TOKEN_SECRET"]), padding.PKCS1v15())
        self.prepend = secret.hex()
        self.signature_key = signature_key
        self.base_url = base_url
        self.http = http
        self.verify = verify
        self.lst: bytes | None = None

    def params(self, method: str, **extra: str) -> dict[str, str]:
        """Step 3: the OAuth parameters (16 alphanumeric nonce, Unix seconds)."""
        nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        return {"oauth_consumer_key": self.consumer_key, "oauth_nonce": nonce, "oauth_signature_method": method,
                "oauth_timestamp": str(int(time.time())), "oauth_token": self.token, **extra}

    @staticmethod
    def base(method: str, url: str, params: dict[str, str], prepend: str = "") -> str:
        """Step 4: prepend + METHOD & quote_plus(url) & quote_plus(sorted k=v joined by &)."""
        pairs = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        return prepend + method + "&" + quote_plus(url) + "&" + quote_plus(pairs)

    def header(self, params: dict[str, str], signature: str, realm: str | None = None) -> str:
        """Step 6: OAuth realm="..." then every parameter as key="value", sorted by key."""
        signed = dict(params, oauth_signature=signature)
        return f'OAuth realm="{realm or self.realm}", ' + ", ".join(f'{k}="{v}"' for k, v in sorted(signed.items()))

    def rsa_sign(self, base: str, key: rsa.RSAPrivateKey | None = None) -> str:
        """Step 5: quote_plus(base64(RSA-PKCS1v15-SHA256(base)))."""
        raw = (key or self.signature_key).sign(base.encode(), padding.PKCS1v15(), hashes.SHA256())
        return quote_plus(base64.b64encode(raw).decode())

    @staticmethod
    def hmac_sign(lst: bytes, base: str) -> str:
        """Step 10: quote_plus(base64(HMAC-SHA256(key=LST bytes, base)))."""
        return quote_plus(base64.b64encode(hmac.new(lst, base.encode(), hashlib.sha256).digest()).decode())

    def lst_headers(self, *, a: int | None = None, challenge: int | None = None, key: rsa.RSAPrivateKey | None = None,
                    realm: str | None = None, **overrides: str) -> tuple[dict[str, str], int]:
        """Headers of a live session token request and the client's DH secret a (step 2)."""
        a = a if a is not None else secrets.randbits(256)
        big_a = challenge if challenge is not None else pow(self.generator, a, self.prime)
        params = self.params("RSA-SHA256", diffie_hellman_challenge=format(big_a, "x"))
        params.update(overrides)
        url = self.base_url + "/oauth/live_session_token"
        signature = self.rsa_sign(self.base("POST", url, params, self.prepend), key)
        return {"Authorization": self.header(params, signature, realm)}, a

    def handshake(self) -> dict[str, Any]:
        """Steps 2-9: request an LST, compute it, check its signature; returns the answer's body."""
        headers, a = self.lst_headers()
        r = self.http.post(self.base_url + "/oauth/live_session_token", headers=headers, verify=self.verify)
        assert r.status_code == 200, r.text
        body = r.json()
        shared = pow(int(body["diffie_hellman_response"], 16), a, self.prime)  # step 8: K = B^a mod p
        k_bytes = shared.to_bytes((shared.bit_length() + 7) // 8, "big")
        if shared.bit_length() % 8 == 0:
            k_bytes = b"\x00" + k_bytes  # Java BigInteger's sign byte
        lst = hmac.new(k_bytes, bytes.fromhex(self.prepend), hashlib.sha1).digest()
        assert hmac.new(lst, self.consumer_key.encode(), hashlib.sha1).hexdigest() == \
            body["live_session_token_signature"]  # step 9
        self.lst = lst
        return body

    def api_headers(self, method: str, path: str, query: dict[str, str] | None = None, *, sign_query: bool = False,
                    lst: bytes | None = None, realm: str | None = None, sig_method: str = "HMAC-SHA256",
                    url: str | None = None, **overrides: str) -> dict[str, str]:
        """Headers of a request after the handshake (step 10), signed with or without the query params."""
        params = self.params(sig_method)
        params.update(overrides)
        signed = dict(params, **(query or {})) if sign_query else params
        base = self.base(method, url or self.base_url + path, signed)
        key = lst if lst is not None else self.lst
        assert key is not None
        return {"Authorization": self.header(params, self.hmac_sign(key, base), realm)}

    def get(self, path: str, query: dict[str, str] | None = None, *, sign_query: bool = False) -> requests.Response:
        """A signed GET."""
        return self.http.get(self.base_url + path, params=query, verify=self.verify,
                             headers=self.api_headers("GET", path, query, sign_query=sign_query))

    def post(self, path: str, body: Any = None) -> requests.Response:
        """A signed POST with a JSON body (never part of the signature)."""
        return self.http.post(self.base_url + path, json=body, verify=self.verify,
                              headers=self.api_headers("POST", path))


# -- fixtures --
def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """The consumer's signature and encryption keys, and a stranger's key."""
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for name in ("signature", "encryption", "other")}


@pytest.fixture(scope="module")
def consumer(keys: dict[str, rsa.RSAPrivateKey]) -> OAuth1Consumer:
    """The consumer as registered at the portal: its key and the two public keys."""
    return OAuth1Consumer(KEY, _pem(keys["signature"]), _pem(keys["encryption"]))


@pytest.fixture
def oauth_sim(make_sim: Callable[..., Simulator], consumer: OAuth1Consumer) -> Simulator:
    """A simulator standing in for api.ibkr.com with the consumer registered (lenient limits)."""
    return make_sim(oauth1_consumers=(consumer,))


def _client(sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session,
            creds: OAuth1Credentials | None = None) -> RefClient:
    creds = creds or sim.oauth1_credentials[KEY]
    return RefClient(creds.as_env(), keys["signature"], keys["encryption"], sim.base_url, http,
                     verify=sim.ca_bundle_path or True)


@pytest.fixture
def client(oauth_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> RefClient:
    """A reference client that has done the handshake."""
    c = _client(oauth_sim, keys, http)
    c.handshake()
    return c


def _refused(r: requests.Response) -> str:
    assert r.status_code == 401, (r.status_code, r.text)
    body = r.json()
    assert body["statusCode"] == 401
    return body["error"]


# -- the handshake and signed requests --
def test_handshake_gives_a_live_session_token_whose_signature_validates(
        oauth_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    c = _client(oauth_sim, keys, http)
    before = time.time()
    body = c.handshake()  # asserts the LST signature
    assert set(body) == {"diffie_hellman_response", "live_session_token_signature", "live_session_token_expiration"}
    assert (before + 86400 - 5) * 1000 <= body["live_session_token_expiration"] <= (time.time() + 86400 + 5) * 1000
    assert 1 < int(body["diffie_hellman_response"], 16) < c.prime - 1
    assert oauth_sim.stats()["oauth1"]["lst_issued"] == 1


def test_signed_requests_pass_with_and_without_query_params_in_the_base_string(
        client: RefClient, oauth_sim: Simulator) -> None:
    r = client.get("/portfolio/accounts")
    assert r.status_code == 200 and r.json()[0]["id"], r.text
    for sign_query in (False, True):
        r = client.get("/portfolio/subaccounts2", {"page": "0"}, sign_query=sign_query)
        assert r.status_code == 200 and "subaccounts" in r.json(), r.text
        # A value the URL percent-encodes: the base string holds it decoded (reference §1.3 step 4).
        conids = ",".join(str(c) for c in list(oauth_sim.world.contracts)[:2])
        r = client.get("/trsrv/secdef", {"conids": conids}, sign_query=sign_query)
        assert r.status_code == 200 and r.json()["secdef"], r.text
    assert oauth_sim.stats()["oauth1"]["refusals"] == {}


def test_the_url_covered_is_the_host_header_the_client_sent(client: RefClient) -> None:
    # ibind sends Host: api.ibkr.com and signs https://api.ibkr.com/...; the simulator checks the
    # scheme it serves (http here) with the Host header it received.
    url = "http://api.ibkr.com/v1/api/portfolio/accounts"
    headers = client.api_headers("GET", "/portfolio/accounts", url=url) | {"Host": "api.ibkr.com"}
    assert client.http.get(client.base_url + "/portfolio/accounts", headers=headers).status_code == 200
    headers = client.api_headers("GET", "/portfolio/accounts", url="https://api.ibkr.com/v1/api/portfolio/accounts")
    assert _refused(client.http.get(client.base_url + "/portfolio/accounts",
                                    headers=headers | {"Host": "api.ibkr.com"})) == "Invalid Signature"


def test_over_tls_the_signed_url_is_https(make_sim: Callable[..., Simulator], consumer: OAuth1Consumer,
                                          keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    sim = make_sim(oauth1_consumers=(consumer,), tls=True)
    c = _client(sim, keys, http)
    assert c.base_url.startswith("https://")
    c.handshake()
    assert c.get("/portfolio/accounts").status_code == 200


def test_ssodh_init_opens_the_brokerage_tier(client: RefClient, oauth_sim: Simulator) -> None:
    r = client.get("/iserver/accounts")
    assert r.status_code == 400 and r.json()["error"] == "Bad Request: no bridge"
    r = client.get("/iserver/auth/status")
    assert r.status_code == 200 and r.json()["authenticated"] is False
    r = client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True})
    assert r.status_code == 200 and r.json()["authenticated"] is True, r.text
    r = client.get("/iserver/accounts")
    assert r.status_code == 200 and r.json()["accounts"], r.text
    assert oauth_sim.stats()["session"]["ssodh_init"] == {"compete_true": 1, "compete_false": 0}


# -- refusals: 401, one distinct body per cause --
def test_refusals_of_the_live_session_token_request(
        oauth_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    c = _client(oauth_sim, keys, http)
    url = c.base_url + "/oauth/live_session_token"

    def post(headers: dict[str, str]) -> str:
        return _refused(http.post(url, headers=headers))

    now = int(time.time())
    texts = {
        "invalid_consumer": post(c.lst_headers(oauth_consumer_key="NOSUCHKEY")[0]),
        "invalid_token": post(c.lst_headers(oauth_token="0123456789abcdef0123")[0]),
        "invalid_realm": post(c.lst_headers(realm="test_realm")[0]),
        "invalid_signature_method": post(c.lst_headers(oauth_signature_method="HMAC-SHA256")[0]),
        "timestamp_out_of_range": post(c.lst_headers(oauth_timestamp=str(now - 1000))[0]),
        "invalid_signature": post(c.lst_headers(key=keys["other"])[0]),
        "invalid_dh_challenge": post(c.lst_headers(challenge=1)[0]),
        "unsigned": post({}),
    }
    assert texts["invalid_consumer"] == "Invalid Consumer"  # reference §1.3 quirks
    assert post(c.lst_headers(oauth_timestamp=str(now + 1000))[0]) == texts["timestamp_out_of_range"]
    assert post(c.lst_headers(challenge=c.prime - 1)[0]) == texts["invalid_dh_challenge"]
    # A tampered signature: one bit of the RSA signature flipped.
    headers, _ = c.lst_headers()
    auth = headers["Authorization"]
    sig = auth.split('oauth_signature="')[1].split('"')[0]
    raw = bytearray(base64.b64decode(unquote_plus(sig)))
    raw[7] ^= 1
    tampered = auth.replace(sig, quote_plus(base64.b64encode(bytes(raw)).decode()))
    assert post({"Authorization": tampered}) == texts["invalid_signature"]
    # A replayed request: the same headers twice.
    headers, _ = c.lst_headers()
    assert http.post(url, headers=headers).status_code == 200
    texts["nonce_reused"] = post(headers)
    assert len(set(texts.values())) == len(texts), texts
    refusals = oauth_sim.stats()["oauth1"]["refusals"]
    assert set(refusals) == set(texts)
    assert refusals["timestamp_out_of_range"] == 2 and refusals["invalid_signature"] == 2


def test_refusals_of_signed_requests(client: RefClient, oauth_sim: Simulator) -> None:
    path = "/portfolio/accounts"
    url = client.base_url + path

    def get(headers: dict[str, str]) -> str:
        return _refused(client.http.get(url, headers=headers))

    now = int(time.time())
    texts = {
        "unsigned": get({}),
        "invalid_consumer": get(client.api_headers("GET", path, oauth_consumer_key="NOSUCHKEY")),
        "invalid_token": get(client.api_headers("GET", path, oauth_token="0123456789abcdef0123")),
        "invalid_realm": get(client.api_headers("GET", path, realm="other_realm")),
        "invalid_signature_method": get(client.api_headers("GET", path, sig_method="RSA-SHA256")),
        "timestamp_out_of_range": get(client.api_headers("GET", path, oauth_timestamp=str(now + 1000))),
        "invalid_signature": get(client.api_headers("GET", path, lst=secrets.token_bytes(20))),
        "malformed": get({"Authorization": "OAuth realm=limited_poa"}),
    }
    assert get(client.api_headers("GET", path, oauth_timestamp=str(now - 1000))) == texts["timestamp_out_of_range"]
    # Signed without the query params, then the query changed on the way: the signature covers neither form.
    headers = client.api_headers("GET", "/portfolio/subaccounts2", {"page": "0"}, sign_query=True)
    assert _refused(client.http.get(client.base_url + "/portfolio/subaccounts2", params={"page": "1"},
                                    headers=headers)) == texts["invalid_signature"]
    headers = client.api_headers("GET", path)
    assert client.http.get(url, headers=headers).status_code == 200
    texts["nonce_reused"] = get(headers)
    assert len(set(texts.values())) == len(texts), texts
    assert set(oauth_sim.stats()["oauth1"]["refusals"]) == set(texts)


def test_a_refusal_counts_as_an_arrival_for_pacing(oauth_sim: Simulator, http: requests.Session) -> None:
    for _ in range(3):
        assert http.get(oauth_sim.base_url + "/portfolio/accounts").status_code == 401
    stats = oauth_sim.stats()
    assert stats["total_requests"] == 3
    assert stats["endpoints"]["GET /portfolio/accounts"]["statuses"] == {"401": 3}
    assert stats["oauth1"]["refusals"] == {"unsigned": 3}
    assert stats["session"]["logged_in"] is False


def test_no_live_session_token_before_the_handshake(
        oauth_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    c = _client(oauth_sim, keys, http)
    headers = c.api_headers("GET", "/portfolio/accounts", lst=secrets.token_bytes(20))
    text = _refused(http.get(c.base_url + "/portfolio/accounts", headers=headers))
    assert text.startswith("No Live Session Token")


def test_an_expired_live_session_token_is_refused_until_renewed(
        make_sim: Callable[..., Simulator], consumer: OAuth1Consumer, keys: dict[str, rsa.RSAPrivateKey],
        http: requests.Session) -> None:
    sim = make_sim(oauth1_consumers=(consumer,), lst_seconds=1.0)
    c = _client(sim, keys, http)
    body = c.handshake()
    assert body["live_session_token_expiration"] <= (time.time() + 1.5) * 1000
    assert c.get("/portfolio/accounts").status_code == 200
    time.sleep(1.2)
    assert _refused(c.get("/portfolio/accounts")) == "Live Session Token Expired"
    assert sim.stats()["session"]["logged_in"] is False
    c.handshake()
    assert c.get("/portfolio/accounts").status_code == 200


def test_sim_expire_oauth_expires_every_live_token_and_the_session(client: RefClient, oauth_sim: Simulator) -> None:
    assert client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True}).status_code == 200
    assert client.get("/iserver/accounts").status_code == 200
    assert requests.post(oauth_sim.root_url + "/sim/expire-oauth").json() == {"ok": True}
    assert _refused(client.get("/portfolio/accounts")) == "Live Session Token Expired"
    client.handshake()
    assert client.get("/portfolio/accounts").status_code == 200
    # guess (server.oauth_check): a session whose LSTs all ended is gone; the new one needs ssodh/init.
    assert client.get("/iserver/accounts").json()["error"] == "Bad Request: no bridge"
    assert client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True}).status_code == 200
    assert client.get("/iserver/accounts").status_code == 200
    assert oauth_sim.stats()["oauth1"]["refusals"] == {"lst_expired": 1}


def test_a_renewal_before_expiry_keeps_the_session_and_the_last_tokens(client: RefClient) -> None:
    assert client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True}).status_code == 200
    first = client.lst
    for _ in range(3):
        client.handshake()
    # guess (oauth1_gate.LIVE_LSTS_KEPT): the last three stay live; the fourth-newest is replaced.
    assert _refused(client.http.get(client.base_url + "/portfolio/accounts", headers=client.api_headers(
        "GET", "/portfolio/accounts", lst=first))).startswith("Live Session Token Replaced")
    assert client.get("/iserver/accounts").status_code == 200  # the brokerage session survived


# -- credentials --
def test_credentials_round_trip_through_as_env(oauth_sim: Simulator, consumer: OAuth1Consumer,
                                               keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    creds = oauth_sim.oauth1_credentials[KEY]
    env = creds.as_env()
    assert set(env) == ENV_KEYS
    assert env["IBKR_OAUTH1_CONSUMER_KEY"] == KEY and env["IBKR_OAUTH1_REALM"] == "limited_poa"
    assert len(env["IBKR_OAUTH1_ACCESS_TOKEN"]) == 20 and int(env["IBKR_OAUTH1_ACCESS_TOKEN"], 16) >= 0
    assert int(env["IBKR_OAUTH1_DH_PRIME"], 16).bit_length() == 2048 and env["IBKR_OAUTH1_DH_GENERATOR"] == "2"
    assert not env["IBKR_OAUTH1_DH_PRIME"].startswith("0x")
    rebuilt = OAuth1Credentials(env["IBKR_OAUTH1_CONSUMER_KEY"], env["IBKR_OAUTH1_ACCESS_TOKEN"],
                                env["IBKR_OAUTH1_ACCESS_TOKEN_SECRET"], env["IBKR_OAUTH1_DH_PRIME"],
                                int(env["IBKR_OAUTH1_DH_GENERATOR"]), env["IBKR_OAUTH1_REALM"])
    assert rebuilt == creds
    assert env["IBKR_OAUTH1_ACCESS_TOKEN_SECRET"] not in repr(creds)
    # Registering again (as a restarted simulator does) gives the same token and secret plaintext.
    again = oauth_sim.register_oauth1_consumer(consumer)
    assert again.access_token == creds.access_token
    assert again.access_token_secret != creds.access_token_secret  # PKCS#1 v1.5 is randomized
    plain = [keys["encryption"].decrypt(base64.b64decode(x.access_token_secret), padding.PKCS1v15())
             for x in (creds, again)]
    assert plain[0] == plain[1]
    c = _client(oauth_sim, keys, http, again)
    c.handshake()
    assert c.get("/portfolio/accounts").status_code == 200


def test_credentials_are_fixed_by_seed_and_consumer_key(consumer: OAuth1Consumer) -> None:
    tokens = {(seed, key): OAuth1Gate(seed).register(OAuth1Consumer(key, consumer.signature_public_pem,
                                                                    consumer.encryption_public_pem)).access_token
              for seed in (7, 8) for key in ("A1", "B2")}
    assert len(set(tokens.values())) == 4
    assert OAuth1Gate(7).register(OAuth1Consumer("A1", consumer.signature_public_pem,
                                                 consumer.encryption_public_pem)).access_token == tokens[(7, "A1")]


def test_testcons_uses_test_realm_and_bad_keys_are_refused(consumer: OAuth1Consumer) -> None:
    test = OAuth1Consumer("TESTCONS", consumer.signature_public_pem, consumer.encryption_public_pem)
    assert test.realm == "test_realm"
    with pytest.raises(ValueError, match="signature public key"):
        OAuth1Consumer(KEY, b"not a pem", consumer.encryption_public_pem)
    with pytest.raises(ValueError, match="consumer key"):
        OAuth1Consumer('BAD"KEY', consumer.signature_public_pem, consumer.encryption_public_pem)


def test_secrets_never_reach_stats(client: RefClient, oauth_sim: Simulator) -> None:
    headers = client.api_headers("GET", "/portfolio/accounts")
    assert client.http.get(client.base_url + "/portfolio/accounts", headers=headers).status_code == 200
    client.http.get(client.base_url + "/portfolio/accounts", headers=headers)  # replay: a refusal
    text = json.dumps(oauth_sim.stats())
    creds = oauth_sim.oauth1_credentials[KEY]
    assert client.lst is not None
    signature = headers["Authorization"].split('oauth_signature="')[1].split('"')[0]
    for secret in (base64.b64encode(client.lst).decode(), client.lst.hex(), client.prepend, signature,
                   creds.access_token_secret, creds.access_token):
        assert secret not in text


# -- limits and modes --
def test_oauth_consumers_bring_ibkr_oauth_limits(consumer: OAuth1Consumer) -> None:
    def global_rate(**kw: Any) -> int:
        return Simulator(SimulatorConfig(today=TODAY, **kw)).limits.scopes["global"].windows[0].count

    assert global_rate() == 10  # reference §5.1: the gateway
    assert global_rate(oauth1_consumers=(consumer,)) == 50  # reference §5.1: OAuth
    assert global_rate(oauth1_consumers=(consumer,), limits_spec="global=7/1") == 7


def test_registering_on_a_running_gateway_simulator_turns_on_oauth(
        make_sim: Callable[..., Simulator], consumer: OAuth1Consumer, keys: dict[str, rsa.RSAPrivateKey],
        http: requests.Session) -> None:
    sim = make_sim(limits_spec=None)
    assert http.get(sim.base_url + "/portfolio/accounts").status_code == 200
    creds = sim.register_oauth1_consumer(consumer)
    assert sim.limits.scopes["global"].windows[0].count == 50
    assert _refused(http.get(sim.base_url + "/portfolio/accounts")).startswith("Not Authenticated")
    c = _client(sim, keys, http, creds)
    c.handshake()
    # IBKR's own limits are in force: /portfolio/accounts (1 per 5 s) was just called, unsigned.
    assert c.get("/portfolio/accounts").status_code == 429
    assert c.get("/iserver/auth/status").status_code == 200


# -- the CLI --
@pytest.fixture
def pem_files(tmp_path: Path, keys: dict[str, rsa.RSAPrivateKey]) -> tuple[str, str]:
    """The two public keys as PEM files."""
    paths = []
    for name in ("signature", "encryption"):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(_pem(keys[name]))
        paths.append(str(path))
    return paths[0], paths[1]




def _wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)


def test_cli_registers_the_consumer_and_writes_a_0600_credentials_file(
        tmp_path: Path, pem_files: tuple[str, str], run_cli: Callable[..., subprocess.Popen[str]],
        keys: dict[str, rsa.RSAPrivateKey], consumer: OAuth1Consumer, http: requests.Session) -> None:
    port, out = _free_port(), tmp_path / "creds.env"
    proc = run_cli("--port", str(port), "--date", TODAY.isoformat(), "--oauth1-consumer", KEY,
                   "--signature-public-key", pem_files[0], "--encryption-public-key", pem_files[1],
                   "--credentials-out", str(out), "--limits", LENIENT)
    _wait_for(lambda: out.exists() and out.stat().st_size > 0, proc)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert set(env) == ENV_KEYS and env["IBKR_OAUTH1_CONSUMER_KEY"] == KEY
    # The same seed and consumer key give the same access token in any simulator (a restart honours it).
    assert env["IBKR_OAUTH1_ACCESS_TOKEN"] == OAuth1Gate(7).register(consumer).access_token
    base = f"http://127.0.0.1:{port}/v1/api"
    assert http.get(base + "/portfolio/accounts").status_code == 401
    c = RefClient(env, keys["signature"], keys["encryption"], base, http)
    c.handshake()
    assert c.get("/portfolio/accounts").status_code == 200
    stats = http.get(f"http://127.0.0.1:{port}/sim/stats").json()
    assert stats["scopes"]["global"]["requests"] == 3 and stats["oauth1"]["lst_issued"] == 1


def test_cli_prints_the_credentials_without_credentials_out(
        pem_files: tuple[str, str], run_cli: Callable[..., subprocess.Popen[str]]) -> None:
    proc = run_cli("--port", str(_free_port()), "--date", TODAY.isoformat(), "--oauth1-consumer", "TESTCONS",
                   "--signature-public-key", pem_files[0], "--encryption-public-key", pem_files[1])
    assert proc.stdout is not None
    lines = []
    while not lines or not lines[-1].startswith("IBKR simulator serving"):
        line = proc.stdout.readline()
        assert line, proc.communicate()[1]
        lines.append(line.strip())
    env = dict(line.split("=", 1) for line in lines[:-1])
    assert set(env) == ENV_KEYS and env["IBKR_OAUTH1_REALM"] == "test_realm"


def test_cli_refuses_a_missing_pem_in_one_line(pem_files: tuple[str, str], tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    proc = subprocess.run([str(EXE), "simulator", "--port", str(_free_port()), "--oauth1-consumer", KEY,
                           "--signature-public-key", missing, "--encryption-public-key", pem_files[1]],
                          env=_env(), text=True, capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert missing in proc.stderr
    proc = subprocess.run([str(EXE), "simulator", "--port", str(_free_port()), "--oauth1-consumer", KEY,
                           "--signature-public-key", pem_files[1]],
                          env=_env(), text=True, capture_output=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "--encryption-public-key" in proc.stderr
