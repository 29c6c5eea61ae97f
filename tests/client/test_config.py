"""Settings come from the environment; a bad one is one readable line naming it."""

from __future__ import annotations

import pytest

from ibkr_pipelines.client.limits import GLOBAL, default_limits
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError


def test_defaults_use_the_embedded_simulator_and_gateway_limits() -> None:
    settings = Settings.from_env({})
    assert settings.uses_simulator
    assert settings.verify_tls
    assert settings.limits().scope(GLOBAL).windows[0].count == 10


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"IBKR_AUTH": "password"}, "IBKR_AUTH"),
        ({"IBKR_BASE_URL": "localhost:5000"}, "IBKR_BASE_URL"),
        ({"IBKR_VERIFY_TLS": "maybe"}, "IBKR_VERIFY_TLS"),
        ({"IBKR_CA_BUNDLE": "/no/such/file.pem"}, "IBKR_CA_BUNDLE"),
        ({"IBKR_PENALTY_SECONDS": "ten"}, "IBKR_PENALTY_SECONDS"),
        ({"IBKR_LIMITS": "global=fast"}, "IBKR_LIMITS"),
        ({"IBKR_TICKLE_SECONDS": "5"}, "IBKR_TICKLE_SECONDS"),
        ({"IBKR_PENALTY_SCOPE": "account"}, "IBKR_PENALTY_SCOPE"),
        ({"IBKR_TIMEOUT": "nan"}, "IBKR_TIMEOUT"),
        ({"IBKR_TIMEOUT": "inf"}, "IBKR_TIMEOUT"),
        ({"IBKR_TIMEOUT": "-1"}, "IBKR_TIMEOUT"),
        ({"IBKR_PENALTY_SECONDS": "NaN"}, "IBKR_PENALTY_SECONDS"),
        ({"IBKR_OUTAGE_SECONDS": "0"}, "IBKR_OUTAGE_SECONDS"),
        ({"IBKR_WAREHOUSE_LOCK_SECONDS": "forever"}, "IBKR_WAREHOUSE_LOCK_SECONDS"),
        ({"IBKR_LIMITS": "globl=8/1"}, "IBKR_LIMITS"),
        ({"IBKR_LIMITS": "global=8/nan"}, "IBKR_LIMITS"),
        ({"IBKR_LIMITS": "global=0/1"}, "IBKR_LIMITS"),
        ({"IBKR_ACCOUNT_IDS": "U1;U2"}, "IBKR_ACCOUNT_IDS"),
        ({"IBKR_BASE_URL": "https://localhost:50x0/v1/api"}, "IBKR_BASE_URL"),
        ({"IBKR_ALLOW_SHRINK": "perhaps"}, "IBKR_ALLOW_SHRINK"),
    ],
)
def test_bad_setting_names_itself_in_one_line(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.startswith(f"{setting}: ")
    assert "\n" not in message


def test_account_filter_and_overrides() -> None:
    settings = Settings.from_env(
        {
            "IBKR_ACCOUNT_IDS": "U1, U2",
            "IBKR_LIMITS": "global=8/1,history=c4",
            "IBKR_PENALTY_SECONDS": "30",
            "IBKR_PACING_SAFETY_MS": "50",
        }
    )
    assert settings.account_ids == ("U1", "U2")
    limits = settings.limits()
    assert limits.scope(GLOBAL).windows[0].count == 8
    assert limits.scope("history").concurrency == 4
    assert limits.penalty_seconds == 30
    assert limits.safety_seconds == 0.05


def test_limits_map_requests_to_scopes() -> None:
    limits = default_limits("gateway")
    assert [s.name for s in limits.scopes_for("GET", "/portfolio/accounts")] == ["portfolio_accounts", GLOBAL]
    assert [s.name for s in limits.scopes_for("GET", "/portfolio/U1/ledger")] == [GLOBAL]
    assert [s.name for s in limits.scopes_for("GET", "/iserver/marketdata/history")] == ["history", GLOBAL]
    assert default_limits("oauth1").scope(GLOBAL).windows[0].count == 50


def test_an_unknown_limits_scope_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IBKR_LIMITS": "globl=8/1"})
    assert "unknown scope 'globl'" in str(caught.value) and "portfolio_accounts" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://alice:s3cr3t-pw@localhost:5000/v1/api", "https://s3cr3t-pw@localhost:5000/v1/api"]
)
def test_credentials_in_the_base_url_are_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IBKR_BASE_URL": url})
    message = str(caught.value)
    assert message.startswith("IBKR_BASE_URL: must not carry a user name or password")
    assert "s3cr3t" not in message and "alice" not in message


def test_pa_transaction_conids_are_read_and_a_bad_one_names_the_setting() -> None:
    assert Settings.from_env({"IBKR_PA_TRANSACTION_CONIDS": " 265598, 756733,265598 "}).pa_transaction_conids == (265598, 756733)
    assert Settings.from_env({}).pa_transaction_conids == ()
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IBKR_PA_TRANSACTION_CONIDS": "265598,AAPL"})
    assert str(caught.value).startswith("IBKR_PA_TRANSACTION_CONIDS: 'AAPL' is not a conid")


def test_the_simulators_fa_size_is_checked() -> None:
    assert Settings.from_env({"IBKR_SIM_EXTRA_SUBACCOUNTS": "150"}).sim_extra_subaccounts == 150
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IBKR_SIM_EXTRA_SUBACCOUNTS": "-1"})
    assert str(caught.value).startswith("IBKR_SIM_EXTRA_SUBACCOUNTS")


def test_watchlist_entries_are_read_upper_case_and_a_bad_one_names_the_setting() -> None:
    assert Settings.from_env({"IBKR_WATCHLIST": "aapl, SAP@IBIS,AAPL"}).watchlist == ("AAPL", "SAP@IBIS")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IBKR_WATCHLIST": "AAPL,SAP@@IBIS"})
    assert str(caught.value).startswith("IBKR_WATCHLIST: 'SAP@@IBIS' is not SYMBOL or SYMBOL@EXCHANGE")
