"""Issue 11 from the command line: the night over OAuth 2.0 against a simulator that verifies it as IBKR does.

The simulator stands in for api.ibkr.com with one registered client (its public key under a key id).
The night lands the same tables, byte for byte, as over a gateway, although IBKR ends every token in
the middle of it; a wrong key or a clock off by hours is one line naming what to fix. No token, key or
assertion reaches the terminal, the warehouse, the lake, the raw archive or the Dagster instance.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.cli_helpers import DATA_TABLES, Workdir, failure_lines, faked_clock, kill_group
from tests.e2e.oauth_sim import (DAY, EVENING, FAKETIME_LIB, NEW_YORK, NO_FAKETIME, SimProcess, files_containing,
                                  key_slice, private_pem)

CLIENT = "PIPELINES2"
KID = "main"
USER = "simuser7"  # the simulated login's IB username
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(FAKETIME_LIB is None, reason=NO_FAKETIME)]


class OAuth2World(SimProcess):
    """The simulator with one OAuth 2.0 client registered as IBKR does it: a public key under a key id."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.private_key, public = private_pem(root / "client.pem")
        self.issued = root / "issued-tokens.env"  # --secrets-out: every token the simulator hands out
        super().__init__("--oauth2-client", CLIENT, "--key-id", KID, "--public-key", str(public),
                         "--credential", USER, "--secrets-out", str(self.issued))

    def env(self, **overrides: str) -> dict[str, str]:
        """IBKR_AUTH=oauth2 with the client's id, key id, private key, username and public IP."""
        env = {"IBKR_AUTH": "oauth2", "IBKR_BASE_URL": self.base_url, "IBKR_OAUTH2_CLIENT_ID": CLIENT,
               "IBKR_OAUTH2_KEY_ID": KID, "IBKR_OAUTH2_PRIVATE_KEY": str(self.private_key),
               "IBKR_OAUTH2_CREDENTIAL": USER, "IBKR_OAUTH2_IP": "203.0.113.7"}
        env.update(overrides)
        return env

    def secrets(self) -> list[str]:
        """Every access token and bearer issued so far, and a slice of the private key."""
        return [*self.issued.read_text().split(), key_slice(self.private_key)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[OAuth2World]:
    """An OAuth 2.0 simulator for one test."""
    oauth = OAuth2World(tmp_path / "keys")
    try:
        yield oauth
    finally:
        oauth.stop()


def test_the_night_over_oauth2_survives_ibkr_ending_every_token_and_leaks_none(
    tmp_path: Path, world: OAuth2World, night_tables: dict[str, str]
) -> None:
    work = Workdir.make(tmp_path / "work", **world.env())
    doctor = work.run(["doctor"], timeout=120, **faked_clock(EVENING, NEW_YORK))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr[-2000:]
    assert f"oauth2 (client {CLIENT}, key id {KID}" in doctor.stdout
    # Every access token and bearer ends once the night is under way (as at expiry): the requests in flight
    # are answered 401, and the client buys a new token and SSO session and opens the brokerage tier again.
    running = world.ingest_in_background(work)
    try:
        deadline = time.monotonic() + 120
        while world.stats()["oauth2"]["bearer_requests"] < 20:
            assert running.poll() is None and time.monotonic() < deadline, "the run ended before any revocation"
            time.sleep(0.05)
        world.control("/sim/expire-oauth", {})
        out, err = running.communicate(timeout=300)
    finally:
        if running.poll() is None:
            kill_group(running)
    assert running.returncode == 0, err[-3000:]
    assert work.table_hashes() == night_tables
    oauth = world.stats()["oauth2"]
    assert oauth["tokens_issued"] >= 3 and oauth["sso_sessions"] >= 3, oauth  # doctor's, the night's, the renewal
    secrets = world.secrets()
    assert len(secrets) >= 7
    assert not [s for s in secrets if s in out + err + doctor.stdout + doctor.stderr]
    assert not files_containing(work.root, secrets)


@pytest.mark.parametrize("change, at, setting", [
    ("key", EVENING, "IBKR_OAUTH2_PRIVATE_KEY"),
    ("none", f"{DAY} 22:00:00", "clock"),
])
def test_a_wrong_key_or_clock_is_one_line_naming_it(tmp_path: Path, world: OAuth2World, change: str, at: str,
                                                   setting: str) -> None:
    other, _public = private_pem(tmp_path / "other.pem")
    overrides = {"IBKR_OAUTH2_PRIVATE_KEY": str(other)} if change == "key" else {}
    work = Workdir.make(tmp_path / "work", **world.env(**overrides))
    done = world.run(work, at=at, timeout=180)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and 'File "' not in done.stderr, done.stderr[-3000:]
    lines = failure_lines(done.stderr)
    assert lines and setting in lines[0] and len(lines) == len(DATA_TABLES), lines
    oauth = world.stats()["oauth2"]
    assert oauth["tokens_issued"] == 0 and sum(oauth["refusals"].values()) == 1, oauth  # refused once for the run
