"""OAuth 2.0 (private_key_jwt) in the simulator, checked by a small reference client written here from reference §1.4.

The client below follows the protocol text of ``shared/ibkr-web-api.md`` §1.4 step by step with PyJWT
and requests; it shares no code with the simulator nor with ``ibkr_pipelines.client``. RSA keys are
generated at test time.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_pipelines.simulator import OAuth1Consumer, OAuth2Client, Simulator
from ibkr_pipelines.simulator.api import USER_NAME
from ibkr_pipelines.simulator.oauth2 import DEFAULT_CREDENTIAL

from .conftest import LENIENT, TODAY, _env, _free_port

EXE = Path(sys.executable).with_name("ibkr-pipelines")
CLIENT_ID = "SIMCLIENT01"
KID = "main"  # reference §1.4 step 2: ibauth's example kid
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# -- the reference client (reference §1.4 steps 1-5) --
class RefClient:
    """OAuth 2.0 as the reference describes it: client assertion -> access token -> SSO session -> bearer."""

    def __init__(self, root: str, key: rsa.RSAPrivateKey, http: requests.Session, *, client_id: str = CLIENT_ID,
                 kid: str = KID, credential: str = USER_NAME) -> None:
        self.root, self.key, self.http = root, key, http
        self.client_id, self.kid, self.credential = client_id, kid, credential
        self.access_token: str | None = None
        self.bearer: str | None = None

    def jws(self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None, kid: str | None = None,
            alg: str = "RS256") -> str:
        """A compact JWS with header {"alg":"RS256","typ":"JWT","kid":...} (reference §1.4 step 2)."""
        return jwt.encode(claims, key or self.key, algorithm=alg, headers={"typ": "JWT", "kid": kid or self.kid})

    def assertion(self, **overrides: Any) -> str:
        """Step 2: iss = sub = client id, aud "/token", exp now+20, iat now-10 (ibauth's choices)."""
        now = math.floor(time.time())
        key, kid = overrides.pop("key", None), overrides.pop("kid", None)
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": "/token", "exp": now + 20, "iat": now - 10}
        claims.update(overrides)
        return self.jws({k: v for k, v in claims.items() if v is not None}, key=key, kid=kid)

    def token_request(self, assertion: str | None = None, **form: str) -> requests.Response:
        """Step 1: the form POST to /oauth2/api/v1/token."""
        data = {"grant_type": "client_credentials", "client_assertion": assertion or self.assertion(),
                "client_assertion_type": ASSERTION_TYPE, "scope": "sso-sessions.write"}
        data.update(form)
        return self.http.post(self.root + "/oauth2/api/v1/token", data=data)

    def get_access_token(self) -> dict[str, Any]:
        """Steps 1-3: an access token."""
        r = self.token_request()
        assert r.status_code == 200, r.text
        self.access_token = r.json()["access_token"]
        return r.json()

    def sso_claims(self, **overrides: Any) -> dict[str, Any]:
        """Step 4's claims: ip, credential, iss, exp now+86400, iat now."""
        now = math.floor(time.time())
        claims = {"ip": "203.0.113.7", "credential": self.credential, "iss": self.client_id,
                  "exp": now + 86400, "iat": now}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sso_request(self, body: str | None = None, *, token: str | None = None,
                    content_type: str = "application/jwt") -> requests.Response:
        """Step 4: POST /gw/api/v1/sso-sessions with the access token and a JWS body."""
        headers = {"Authorization": f"Bearer {token or self.access_token}", "Content-Type": content_type}
        return self.http.post(self.root + "/gw/api/v1/sso-sessions", data=body or self.jws(self.sso_claims()),
                              headers=headers)

    def open_session(self) -> None:
        """Steps 1-4: an access token, then the SSO session's bearer for /v1/api."""
        self.get_access_token()
        r = self.sso_request()
        assert r.status_code == 200, r.text
        self.bearer = r.json()["access_token"]

    def get(self, path: str, token: str | None = None) -> requests.Response:
        """Step 5: a /v1/api GET with the bearer."""
        return self.http.get(self.root + "/v1/api" + path, headers={"Authorization": f"Bearer {token or self.bearer}"})

    def post(self, path: str, body: Any = None) -> requests.Response:
        """Step 5: a /v1/api POST with the bearer."""
        return self.http.post(self.root + "/v1/api" + path, json=body, headers={"Authorization": f"Bearer {self.bearer}"})


# -- fixtures --
def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """The client's key and a stranger's (2048-bit RSA, made once per module)."""
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in ("client", "other")}


@pytest.fixture(scope="module")
def oauth2_client(keys: dict[str, rsa.RSAPrivateKey]) -> OAuth2Client:
    """The registered client: its public key under KID, acting for the simulated login."""
    return OAuth2Client(CLIENT_ID, KID, _pem(keys["client"]), USER_NAME)


@pytest.fixture
def oauth2_sim(make_sim: Callable[..., Simulator], oauth2_client: OAuth2Client) -> Simulator:
    """A simulator standing in for api.ibkr.com with the client registered."""
    return make_sim(oauth2_clients=(oauth2_client,))


@pytest.fixture
def client(oauth2_sim: Simulator, keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> RefClient:
    """The reference client, not yet holding any token."""
    return RefClient(oauth2_sim.root_url, keys["client"], http)


def _problem(r: requests.Response, status: int) -> str:
    """The ``detail`` of an RFC 9457 problem+json refusal with ``status``."""
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "/simple" and body["status"] == status and body["title"]
    return str(body["detail"])


def _refused(r: requests.Response) -> str:
    """The text of a /v1/api 401 refusal."""
    assert r.status_code == 401, r.text
    assert r.json()["statusCode"] == 401
    return str(r.json()["error"])


# -- the flow --
def test_the_full_flow_from_assertion_to_the_brokerage_tier(client: RefClient, oauth2_sim: Simulator) -> None:
    answer = client.get_access_token()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 86399  # reference §1.4 step 3
    assert answer["scope"] == "sso-sessions.write"
    r = client.sso_request()
    assert r.status_code == 200, r.text
    client.bearer = r.json()["access_token"]
    assert client.bearer != client.access_token
    r = client.get("/sso/validate")
    assert r.status_code == 200 and r.json()["USER_NAME"] == USER_NAME
    assert client.get("/portfolio/accounts").status_code == 200  # the read-only tier
    r = client.get("/iserver/accounts")
    assert r.status_code != 200  # no brokerage session before ssodh/init (reference §1.4 step 5)
    r = client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True})
    assert r.status_code == 200 and r.json()["authenticated"] is True
    r = client.get("/iserver/accounts")
    assert r.status_code == 200 and r.json()["accounts"]
    assert client.get("/tickle").status_code == 200
    stats = oauth2_sim.stats()["oauth2"]
    assert stats["clients"] == 1 and stats["tokens_issued"] == 1 and stats["sso_sessions"] == 1
    assert stats["bearer_requests"] >= 6 and stats["refusals"] == {}
    text = json.dumps(oauth2_sim.stats())
    assert client.bearer not in text and client.access_token not in text  # type: ignore[operator]


def test_scopes_are_granted_as_asked_and_unknown_ones_refused(client: RefClient) -> None:
    r = client.token_request(scope="echo.read echo.write")
    assert r.status_code == 200 and r.json()["scope"] == "echo.read echo.write"  # reference §1.4 step 3
    assert "scope" in _problem(client.token_request(scope="trading.everything"), 400)
    # An access token without sso-sessions.write cannot open an SSO session (guess: 403, RFC 6750).
    detail = _problem(client.sso_request(token=r.json()["access_token"]), 403)
    assert "scope" in detail


def test_the_audience_may_be_the_token_url(client: RefClient, oauth2_sim: Simulator) -> None:
    url = oauth2_sim.root_url + "/oauth2/api/v1/token"
    assert client.token_request(client.assertion(aud=url)).status_code == 200  # RFC 7523 §3
    assert client.token_request(client.assertion(aud=["/token", "other"])).status_code == 200


# -- refusals of the token request --
def test_refusals_of_the_token_request(client: RefClient, keys: dict[str, rsa.RSAPrivateKey],
                                       oauth2_sim: Simulator) -> None:
    now = math.floor(time.time())
    cases = {
        "unknown_kid": (client.token_request(client.assertion(kid="other")), 401, "kid"),
        "bad_signature": (client.token_request(client.assertion(key=keys["other"])), 401, "signature"),
        "wrong_audience": (client.token_request(client.assertion(aud="https://example.com/token")), 401, "aud"),
        "assertion_expired": (client.token_request(client.assertion(exp=now - 5, iat=now - 30)), 401, "expired"),
        "assertion_too_long": (client.token_request(client.assertion(exp=now + 3600)), 401, "too far ahead"),
        "iat_in_future": (client.token_request(client.assertion(iat=now + 120, exp=now + 200)), 401, "iat"),
        "unknown_client": (client.token_request(client.assertion(iss="NOBODY", sub="NOBODY")), 401, "unknown client"),
        "iss_sub_mismatch": (client.token_request(client.assertion(sub="SOMEONE")), 401, "iss and sub"),
        "missing_claim": (client.token_request(client.assertion(aud=None)), 401, "lacks a claim"),
        "unsupported_grant_type": (client.token_request(grant_type="password"), 400, "client_credentials"),
        "invalid_assertion_type": (client.token_request(client_assertion_type="jwt"), 400, "client_assertion_type"),
        "missing_field": (client.token_request(scope=""), 400, "missing"),
        "malformed_assertion": (client.token_request("not.a.jws"), 401, "compact JWS"),
        "unsupported_alg": (client.token_request(jwt.encode({"iss": CLIENT_ID}, "s" * 32, algorithm="HS256",
                                                            headers={"kid": KID})), 401, "RS256"),
    }
    details = set()
    for reason, (r, status, words) in cases.items():
        detail = _problem(r, status)
        assert words in detail, (reason, detail)
        details.add(detail)
    assert len(details) == len(cases)  # each reason reads differently
    r = client.http.post(client.root + "/oauth2/api/v1/token", json={"grant_type": "client_credentials"})
    assert "x-www-form-urlencoded" in _problem(r, 400)
    refusals = oauth2_sim.stats()["oauth2"]["refusals"]
    assert {reason: refusals.get(reason) for reason in cases} == {reason: 1 for reason in cases}
    assert oauth2_sim.stats()["oauth2"]["tokens_issued"] == 0


def test_a_jti_is_single_use(client: RefClient) -> None:
    assertion = client.assertion(jti=str(uuid.uuid4()))
    assert client.token_request(assertion).status_code == 200
    assert "jti" in _problem(client.token_request(assertion), 401)
    assert client.token_request(client.assertion()).status_code == 200  # without a jti: no replay check


# -- refusals of the SSO session request --
def test_refusals_of_the_sso_session_request(client: RefClient, keys: dict[str, rsa.RSAPrivateKey]) -> None:
    client.get_access_token()
    now = math.floor(time.time())
    assert "credential" in _problem(client.sso_request(client.jws(client.sso_claims(credential="someoneelse"))), 400)
    assert "signature" in _problem(client.sso_request(client.jws(client.sso_claims(), key=keys["other"])), 401)
    assert "kid" in _problem(client.sso_request(client.jws(client.sso_claims(), kid="other")), 401)
    assert "iss" in _problem(client.sso_request(client.jws(client.sso_claims(iss="NOBODY"))), 401)
    assert "lacks a claim" in _problem(client.sso_request(client.jws(client.sso_claims(ip=None))), 400)
    assert "expired" in _problem(client.sso_request(client.jws(client.sso_claims(exp=now - 1))), 400)
    assert "iat" in _problem(client.sso_request(client.jws(client.sso_claims(iat=now + 600))), 400)
    assert "application/jwt" in _problem(client.sso_request(content_type="application/json"), 400)
    assert "not an access token" in _problem(client.sso_request(token="made-up"), 401)
    r = client.http.post(client.root + "/gw/api/v1/sso-sessions", data=client.jws(client.sso_claims()),
                         headers={"Content-Type": "application/jwt"})
    assert "Bearer" in _problem(r, 401)
    assert client.sso_request().status_code == 200  # the same access token still works


def test_the_sso_bearer_is_not_an_access_token_and_back(client: RefClient) -> None:
    client.open_session()
    assert "Client Portal bearer" in _problem(client.sso_request(token=client.bearer), 401)
    assert "OAuth 2.0 access token" in _refused(client.get("/portfolio/accounts", token=client.access_token))


def test_the_am_root_checks_the_access_token_and_serves_nothing_else_yet(client: RefClient) -> None:
    client.get_access_token()
    r = client.http.get(client.root + "/gw/api/v1/accounts", headers={"Authorization": "Bearer nope"})
    assert "not an access token" in _problem(r, 401)
    r = client.http.get(client.root + "/gw/api/v1/accounts", headers={"Authorization": f"Bearer {client.access_token}"})
    assert "no Account Management endpoint" in _problem(r, 404)


# -- /v1/api with a bearer --
def test_refusals_on_the_client_portal_api(client: RefClient, oauth2_sim: Simulator) -> None:
    client.open_session()
    assert _refused(client.http.get(oauth2_sim.base_url + "/portfolio/accounts")).startswith("Not Authenticated")
    assert _refused(client.get("/portfolio/accounts", token="made-up")) == "Invalid Bearer Token"
    r = client.http.get(oauth2_sim.base_url + "/portfolio/accounts", headers={"Authorization": "Basic eA=="})
    assert _refused(r).startswith("Malformed")
    refusals = oauth2_sim.stats()["oauth2"]["refusals"]
    assert refusals == {"cp_no_bearer": 1, "cp_bearer_unknown": 1, "cp_bearer_malformed": 1}


def test_sim_expire_oauth_expires_tokens_bearers_and_the_session(client: RefClient, oauth2_sim: Simulator) -> None:
    client.open_session()
    assert client.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True}).status_code == 200
    assert client.http.post(oauth2_sim.root_url + "/sim/expire-oauth").status_code == 200
    assert _refused(client.get("/portfolio/accounts")).startswith("Bearer Token Expired")
    assert "expired" in _problem(client.sso_request(), 401)
    client.open_session()
    assert client.get("/portfolio/accounts").status_code == 200
    assert client.get("/iserver/auth/status").json()["authenticated"] is False  # a fresh session: ssodh/init again


def test_bearers_end_after_bearer_seconds(make_sim: Callable[..., Simulator], oauth2_client: OAuth2Client,
                                          keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    sim = make_sim(oauth2_clients=(oauth2_client,), bearer_seconds=1.0)
    c = RefClient(sim.root_url, keys["client"], http)
    assert c.get_access_token()["expires_in"] == 1
    c.bearer = c.sso_request().json()["access_token"]
    assert c.get("/portfolio/accounts").status_code == 200
    time.sleep(1.1)
    assert _refused(c.get("/portfolio/accounts")).startswith("Bearer Token Expired")
    assert "expired" in _problem(c.sso_request(), 401)


def test_ssodh_init_500_only_when_asked(make_sim: Callable[..., Simulator], oauth2_client: OAuth2Client,
                                        keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    sim = make_sim(oauth2_clients=(oauth2_client,), oauth2_ssodh_init_500=True, paper=True)
    c = RefClient(sim.root_url, keys["client"], http)
    c.open_session()
    assert c.post("/iserver/auth/ssodh/init", {"publish": True, "compete": True}).status_code == 500  # §1.4 step 6
    assert c.get("/portfolio/accounts").status_code == 200


# -- modes --
def test_gateway_mode_has_no_oauth2_roots(sim: Simulator, http: requests.Session) -> None:
    assert http.post(sim.root_url + "/oauth2/api/v1/token", data={"grant_type": "client_credentials"}).status_code == 404
    assert http.get(sim.base_url + "/portfolio/accounts").status_code == 200
    assert sim.stats()["oauth2"]["clients"] == 0


def test_registering_on_a_running_gateway_turns_on_oauth(make_sim: Callable[..., Simulator], oauth2_client: OAuth2Client,
                                                         keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    sim = make_sim(limits_spec=None)
    sim.register_oauth2_client(oauth2_client)
    assert sim.oauth_mode and sim.limits.scopes["global"].windows[0].count == 50  # reference §5.1
    assert _refused(http.get(sim.base_url + "/iserver/auth/status")).startswith("Not Authenticated")
    c = RefClient(sim.root_url, keys["client"], http)
    c.open_session()
    assert c.get("/iserver/auth/status").status_code == 200


def test_oauth1_and_oauth2_side_by_side(make_sim: Callable[..., Simulator], oauth2_client: OAuth2Client,
                                        keys: dict[str, rsa.RSAPrivateKey], http: requests.Session) -> None:
    pem = _pem(keys["other"])
    sim = make_sim(oauth2_clients=(oauth2_client,), oauth1_consumers=(OAuth1Consumer("SIMCONS01", pem, pem),))
    c = RefClient(sim.root_url, keys["client"], http)
    c.open_session()
    assert c.get("/portfolio/accounts").status_code == 200
    # Without a bearer the OAuth 1.0a gate judges (its own refusal text).
    assert "OAuth-signed" in _refused(http.get(sim.base_url + "/portfolio/accounts"))


def test_the_default_credential_is_the_simulated_login() -> None:
    assert DEFAULT_CREDENTIAL == USER_NAME


def test_bad_client_settings_are_refused(keys: dict[str, rsa.RSAPrivateKey]) -> None:
    with pytest.raises(ValueError, match="public key"):
        OAuth2Client(CLIENT_ID, KID, b"not a pem")
    with pytest.raises(ValueError, match="client id"):
        OAuth2Client("bad id", KID, _pem(keys["client"]))


# -- the CLI --


def test_cli_registers_an_oauth2_client(tmp_path: Path, keys: dict[str, rsa.RSAPrivateKey],
                                        run_cli: Callable[..., subprocess.Popen[str]], http: requests.Session) -> None:
    pem = tmp_path / "client.pem"
    pem.write_bytes(_pem(keys["client"]))
    port = _free_port()
    proc = run_cli("--port", str(port), "--date", TODAY.isoformat(), "--oauth2-client", CLIENT_ID,
                   "--key-id", KID, "--public-key", str(pem), "--credential", "trader1", "--limits", LENIENT)
    deadline = time.monotonic() + 30
    root = f"http://127.0.0.1:{port}"
    while True:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "simulator did not start"
        try:
            http.get(root + "/sim/stats", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    c = RefClient(root, keys["client"], http, credential="trader1")
    c.open_session()
    assert c.get("/portfolio/accounts").status_code == 200


def test_cli_bad_pem_is_one_error_line(tmp_path: Path) -> None:
    pem = tmp_path / "bad.pem"
    pem.write_text("not a key")
    proc = subprocess.run([str(EXE), "simulator", "--port", str(_free_port()), "--oauth2-client", CLIENT_ID,
                           "--key-id", KID, "--public-key", str(pem)], env=_env(), text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "public key" in lines[0], proc.stderr
