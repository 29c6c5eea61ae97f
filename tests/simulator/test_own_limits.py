"""The simulator enforces IBKR's published limits from its own table: the client's settings never change them."""

from __future__ import annotations

import datetime

import pytest

from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import start_embedded_simulator
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.simulator.limits import Window, ibkr_limits

TODAY = datetime.date(2026, 11, 20)


def test_the_embedded_simulator_ignores_the_clients_limits() -> None:
    settings = Settings.from_env({"IBKR_LIMITS": "global=50/1,portfolio_accounts=10/1"})
    sim = start_embedded_simulator(settings, TODAY)
    try:
        limits = sim.config.effective_limits()
        assert limits.scopes["global"].windows == (Window(10, 1.0),)
        assert limits.scopes["portfolio_accounts"].windows == (Window(1, 5.0),)
        assert limits.penalty_seconds == 600.0
    finally:
        sim.stop()


def test_its_own_setting_changes_them_and_a_bad_one_is_one_line() -> None:
    sim = start_embedded_simulator(Settings.from_env({"IBKR_SIM_LIMITS": "global=50/1"}), TODAY)
    try:
        assert sim.config.effective_limits().scopes["global"].windows == (Window(50, 1.0),)
    finally:
        sim.stop()
    with pytest.raises(ConfigError, match=r"^IBKR_SIM_LIMITS: expected <scope>=N/SECONDS"):
        start_embedded_simulator(Settings.from_env({"IBKR_SIM_LIMITS": "everything=fast"}), TODAY)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/portfolio/subaccounts2", "portfolio_subaccounts"),  # guess: shares /subaccounts' 1 per 5 s
        ("POST", "/pa/allperiods", "pa_allperiods"),  # reference §2.7: every /pa endpoint 1 per 15 min
        ("POST", "/pa/performance", "pa_performance"),
        ("POST", "/pa/transactions", "pa_transactions"),
        ("GET", "/iserver/account/trades", "trades"),  # reference §5.2: 1 per 5 s
        ("GET", "/iserver/account/orders", "orders"),
        ("POST", "/tickle", "tickle"),
        ("GET", "/portfolio/U1/ledger", "global"),
    ],
)
def test_paths_fall_in_the_scopes_the_reference_names(method: str, path: str, scope: str) -> None:
    assert ibkr_limits().scopes_for(method, path)[0].name == scope
