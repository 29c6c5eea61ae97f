"""/portfolio/{id}/summary timestamps in seconds (recording) or milliseconds with null values (OpenAPI, FA samples)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.simulator.clock import close_epoch_s

from .conftest import TODAY, list_accounts

TEXT_METRICS = {"accountcode", "accountready", "accounttype", "cushion", "leverage-s", "daytradesremaining",
                "highestseverity"}


def _summary(make_sim: Callable[..., Simulator], http: requests.Session, **kw: Any) -> dict[str, Any]:
    sim = make_sim(**kw)
    list_accounts(http, sim)
    return http.get(f"{sim.base_url}/portfolio/U7000011/summary").json()


def test_seconds_and_strings_by_default(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    s = _summary(make_sim, http)
    assert {v["timestamp"] for v in s.values()} == {close_epoch_s(TODAY)}
    assert all(isinstance(v["value"], str) for v in s.values())


def test_milliseconds_and_null_values(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    secs = _summary(make_sim, http)
    ms = _summary(make_sim, http, summary_timestamp_unit="ms")
    assert {v["timestamp"] for v in ms.values()} == {close_epoch_s(TODAY) * 1000}
    for k, v in ms.items():
        assert v["amount"] == secs[k]["amount"] and v["isNull"] is False
        assert v["value"] == (secs[k]["value"] if k in TEXT_METRICS else None), k
    assert ms["accountcode"]["value"] == "U7000011"


def test_null_values_switch_apart_from_the_unit(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    ms_strings = _summary(make_sim, http, summary_timestamp_unit="ms", summary_null_values=False)
    assert all(isinstance(v["value"], str) for v in ms_strings.values())
    s_nulls = _summary(make_sim, http, summary_null_values=True)
    assert s_nulls["netliquidation"]["value"] is None and s_nulls["netliquidation"]["timestamp"] == close_epoch_s(TODAY)


def test_unknown_switch_values_are_refused() -> None:
    with pytest.raises(ValueError, match="summary_timestamp_unit"):
        SimulatorConfig(summary_timestamp_unit="us")
    with pytest.raises(ValueError, match="sparse_positions"):
        SimulatorConfig(sparse_positions="sometimes")
    with pytest.raises(ValueError, match="extra_subaccounts"):
        SimulatorConfig(extra_subaccounts=-1)
