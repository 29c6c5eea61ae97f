"""The client's OAuth 2.0 against the simulator, which verifies assertions and SSO-session JWTs as IBKR does.

Keys are generated here. The night over OAuth 2.0 from the command line is tests/e2e/test_oauth2_cli.py.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_pipelines.client.factory import build_client
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.oauth2 import OAuth2Auth, what_to_fix
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError, OAuthRefused
from ibkr_pipelines.simulator import OAuth2Client, Simulator, SimulatorConfig
from tests.fast_limits import FAST_LIMITS

TODAY = datetime.date(2026, 11, 20)
CLIENT_ID = "PIPELINES2"
KID = "main"
USER = "simuser7"  # the simulated login's IB username


def _key(path: Path) -> tuple[Path, bytes]:
    """A fresh RSA key: its private PEM on disk (the client's) and the public PEM (handed to IBKR)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path, key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, Path]:
    """The registered key pair, and another private key nobody registered."""
    root = tmp_path_factory.mktemp("keys")
    private, public = _key(root / "client.pem")
    other, _ = _key(root / "other.pem")
    return private, public, other


@pytest.fixture
def sim(keys: tuple[Path, bytes, Path]) -> Iterator[Simulator]:
    """A simulator standing in for api.ibkr.com with one registered OAuth 2.0 client."""
    simulator = Simulator(SimulatorConfig(seed=3, today=TODAY, penalty_seconds=1.0, bearer_seconds=60.0,
                                          limits_spec=FAST_LIMITS)).start()
    simulator.register_oauth2_client(OAuth2Client(CLIENT_ID, KID, keys[1], credential=USER))
    yield simulator
    simulator.stop()


def _env(private: Path, **overrides: str) -> dict[str, str]:
    env = {"IBKR_AUTH": "oauth2", "IBKR_OAUTH2_CLIENT_ID": CLIENT_ID, "IBKR_OAUTH2_KEY_ID": KID,
           "IBKR_OAUTH2_PRIVATE_KEY": str(private), "IBKR_OAUTH2_CREDENTIAL": USER, "IBKR_OAUTH2_IP": "203.0.113.7"}
    env.update(overrides)
    return env


def _client(sim: Simulator, tmp_path: Path, private: Path, *, clock: Any = time.time, **overrides: str) -> IbkrClient:
    # Renewal, not pacing, is under test: both sides at the tests' fast limits (the listings' 1 per 5 s).
    settings = Settings.from_env({**_env(private, **overrides), "IBKR_BASE_URL": sim.base_url,
                                  "IBKR_PACING_DIR": str(tmp_path / "pacing"), "IBKR_LIMITS": FAST_LIMITS})
    client = build_client(settings, sim.base_url, retry=RetryPolicy(base_seconds=0.05, cap_seconds=0.2))
    assert isinstance(client.auth, OAuth2Auth)
    client.auth._clock = clock  # noqa: SLF001 - the test moves the client's clock
    return client


def test_settings_are_read_and_the_key_path_stays_out_of_repr(keys: tuple[Path, bytes, Path]) -> None:
    settings = Settings.from_env(_env(keys[0], IBKR_OAUTH2_SCOPES="sso-sessions.write,statements.read"))
    assert settings.base_url == "https://api.ibkr.com/v1/api" and settings.oauth2 is not None
    assert settings.oauth2.scopes == ("sso-sessions.write", "statements.read")
    assert str(keys[0]) not in repr(settings)


@pytest.mark.parametrize(
    "change, setting",
    [
        ({"IBKR_OAUTH2_CLIENT_ID": ""}, "IBKR_OAUTH2_CLIENT_ID"),
        ({"IBKR_OAUTH2_KEY_ID": " "}, "IBKR_OAUTH2_KEY_ID"),
        ({"IBKR_OAUTH2_PRIVATE_KEY": "/nowhere/key.pem"}, "IBKR_OAUTH2_PRIVATE_KEY"),
        ({"IBKR_OAUTH2_CREDENTIAL": ""}, "IBKR_OAUTH2_CREDENTIAL"),
        ({"IBKR_OAUTH2_IP": "my laptop"}, "IBKR_OAUTH2_IP"),
        ({"IBKR_OAUTH2_IP": ""}, "IBKR_OAUTH2_IP"),
        ({"IBKR_OAUTH2_SCOPES": "sso-sessions.write everything.write"}, "IBKR_OAUTH2_SCOPES"),
    ],
)
def test_a_bad_oauth2_setting_is_one_line_naming_it(keys: tuple[Path, bytes, Path], change: dict[str, str],
                                                    setting: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(_env(keys[0], **change))
    assert raised.value.setting == setting and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "text, setting",
    [
        ("client_assertion kid is not a key registered for this client", "IBKR_OAUTH2_KEY_ID"),
        ("client_assertion signature does not verify with the client's registered key", "IBKR_OAUTH2_PRIVATE_KEY"),
        ("unknown client: iss names no registered client", "IBKR_OAUTH2_CLIENT_ID"),
        ("credential is not the IB username registered for this client", "IBKR_OAUTH2_CREDENTIAL"),
        ("client_assertion has expired (exp is in the past)", "clock"),
        ("Bad Request", "IBKR_OAUTH2_CLIENT_ID, IBKR_OAUTH2_KEY_ID"),
    ],
)
def test_a_refusal_names_what_to_fix(text: str, setting: str) -> None:
    assert setting in what_to_fix(text)


def test_the_token_the_sso_session_and_the_bearer_serve_both_tiers(sim: Simulator, tmp_path: Path,
                                                                   keys: tuple[Path, bytes, Path]) -> None:
    with _client(sim, tmp_path, keys[0]) as client:
        accounts = client.get("/portfolio/accounts")
        assert accounts and client.get("/iserver/accounts")["accounts"]
    oauth = sim.stats()["oauth2"]
    assert oauth["tokens_issued"] == 1 and oauth["sso_sessions"] == 1 and not oauth["refusals"], oauth
    assert oauth["bearer_requests"] >= 4  # /sso/validate, the listing, the brokerage tier, /iserver/accounts


def test_a_bearer_ended_by_ibkr_is_renewed_once_and_the_request_answers(sim: Simulator, tmp_path: Path,
                                                                        keys: tuple[Path, bytes, Path]) -> None:
    with _client(sim, tmp_path, keys[0]) as client:
        before = client.get("/portfolio/accounts")
        sim.oauth2.expire_all(time.time())  # as /sim/expire-oauth: every token and bearer ends now
        assert client.get("/portfolio/accounts") == before
        assert client.get("/iserver/accounts")["accounts"]
    oauth = sim.stats()["oauth2"]
    # The access token ended too: the SSO session request was refused once, then a new token and session.
    assert oauth["tokens_issued"] == 2 and oauth["sso_sessions"] == 2, oauth
    assert oauth["refusals"].get("cp_bearer_expired") == 1, oauth


def test_a_bearer_about_to_expire_is_renewed_before_any_refusal(sim: Simulator, tmp_path: Path,
                                                                keys: tuple[Path, bytes, Path]) -> None:
    ahead = [0.0]
    with _client(sim, tmp_path, keys[0], clock=lambda: time.time() + ahead[0]) as client:
        client.get("/portfolio/accounts")
        # 5 s left of the 60 s bearer on our clock: within a tenth of its life. (Further ahead, IBKR would
        # refuse the JWTs' iat as in the future: the simulator allows 60 s of skew.)
        ahead[0] = 55.0
        client.get("/portfolio/accounts")
    oauth = sim.stats()["oauth2"]
    assert oauth["sso_sessions"] == 2 and not oauth["refusals"], oauth
    assert oauth["tokens_issued"] == 2  # the access token, as old, was renewed with it


@pytest.mark.parametrize(
    "change, setting, refusal",
    [
        ({"IBKR_OAUTH2_CLIENT_ID": "NOTREGISTERED"}, "IBKR_OAUTH2_CLIENT_ID", "unknown_client"),
        ({"IBKR_OAUTH2_KEY_ID": "other"}, "IBKR_OAUTH2_KEY_ID", "unknown_kid"),
        ({"private": "other"}, "IBKR_OAUTH2_PRIVATE_KEY", "bad_signature"),
        ({"IBKR_OAUTH2_CREDENTIAL": "someoneelse"}, "IBKR_OAUTH2_CREDENTIAL", "sso_wrong_credential"),
    ],
)
def test_a_wrong_credential_is_refused_once_and_named(sim: Simulator, tmp_path: Path, keys: tuple[Path, bytes, Path],
                                                      change: dict[str, str], setting: str, refusal: str) -> None:
    private = keys[2] if change.pop("private", None) else keys[0]
    client = _client(sim, tmp_path, private, **change)
    try:
        for _ in range(2):  # the second step of a run is told the same, without asking IBKR again
            with pytest.raises(OAuthRefused) as raised:
                client.get("/portfolio/accounts")
            assert setting in str(raised.value) and "\n" not in str(raised.value)
    finally:
        client.close()
    assert sim.stats()["oauth2"]["refusals"] == {refusal: 1}


def test_a_clock_ahead_of_ibkrs_is_named(sim: Simulator, tmp_path: Path, keys: tuple[Path, bytes, Path]) -> None:
    client = _client(sim, tmp_path, keys[0], clock=lambda: time.time() + 7200)
    try:
        with pytest.raises(OAuthRefused) as raised:
            client.get("/portfolio/accounts")
        assert "clock" in str(raised.value)
    finally:
        client.close()


def test_account_management_takes_the_same_access_token_and_renews_it(sim: Simulator, tmp_path: Path,
                                                                      keys: tuple[Path, bytes, Path]) -> None:
    scopes = "sso-sessions.write statements.read"
    with _client(sim, tmp_path, keys[0], IBKR_OAUTH2_SCOPES=scopes) as client:
        account = client.get("/portfolio/accounts")[0]["id"]
        am = client.account_management()
        first = am.get("/statements/available", {"accountId": account})
        assert first["data"]["value"]["daily"], first
        assert sim.stats()["oauth2"]["tokens_issued"] == 1  # the Client Portal's token, shared
        sim.oauth2.expire_all(time.time())  # IBKR ends it early: one 401, a new token, the same answer
        assert am.get("/statements/available", {"accountId": account}) == first
    oauth = sim.stats()["oauth2"]
    assert oauth["tokens_issued"] == 2 and oauth["refusals"] == {"bearer_expired": 1}, oauth
