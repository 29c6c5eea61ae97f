"""``ibkr-pipelines doctor``: green on a healthy login, and one red line saying what to do for each problem."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Iterator

import pytest

from ibkr_pipelines.cli import main
from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from tests.e2e.cli_helpers import free_port

DAY = dt.date(2026, 11, 20)
BROKERAGE_TABLES = {"executions", "orders", "bars"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean IBKR_* environment with its own data and pacing folders."""
    for name in [n for n in __import__("os").environ if n.startswith("IBKR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("IBKR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
    monkeypatch.setenv("IBKR_SIM_LIMITS", "global=50/1")
    monkeypatch.setenv("IBKR_LIMITS", "global=50/1")
    return tmp_path


@pytest.fixture
def competing(monkeypatch: pytest.MonkeyPatch, env: Path) -> Iterator[Simulator]:
    """A gateway whose brokerage session TWS holds."""
    with Simulator(SimulatorConfig(today=DAY, competing=True, brokerage_at_start=False, limits_spec="global=50/1")) as sim:
        monkeypatch.setenv("IBKR_BASE_URL", sim.base_url)
        yield sim


def _lines(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = capsys.readouterr().out
    lines = {}
    for line in out.splitlines():
        mark, topic = line.split()[:2]
        lines[topic] = line
        assert mark in ("ok", "FAIL"), line
    return lines


def test_a_healthy_login_is_green_on_every_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    lines = _lines(capsys)
    assert all(line.startswith("ok") for line in lines.values()), lines
    assert "6 visible (1 master, 5 other), 6 selected" in lines["login"]
    assert "global 50 per 1 s" in lines["limits"] and "no penalty box" in lines["pacing"]
    for table in ("accounts", "positions", "executions", "bars", "nav_daily", "pa_transactions"):
        assert table in lines


def test_tws_holding_the_brokerage_session_reds_only_what_needs_it(
    competing: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor"]) == 1
    lines = _lines(capsys)
    red = {topic for topic, line in lines.items() if line.startswith("FAIL")}
    assert red == {"brokerage"} | BROKERAGE_TABLES
    assert "IBKR_COMPETE=true" in lines["brokerage"]
    # doctor asked, and took nothing: no ssodh/init reached the gateway.
    assert competing.stats()["session"]["ssodh_init"] == {"compete_true": 0, "compete_false": 0}


def test_a_bad_setting_is_one_red_line_naming_it(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IBKR_ACCOUNT_IDS", "U1;DROP")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("FAIL") and "IBKR_ACCOUNT_IDS" in out[0]


def test_nothing_listening_is_a_red_connection_line_within_seconds(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IBKR_BASE_URL", f"http://127.0.0.1:{free_port()}/v1/api")
    started = time.monotonic()
    assert main(["doctor"]) == 1
    assert time.monotonic() - started < 60
    lines = _lines(capsys)
    failed = [line for line in lines.values() if line.startswith("FAIL")]
    assert len(failed) == 1 and "127.0.0.1" in failed[0], lines


def test_a_running_penalty_box_is_red(env: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from ibkr_pipelines.client.factory import pacing_file
    from ibkr_pipelines.client.pacing_store import FilePacingStore
    from ibkr_pipelines.config import Settings

    with Simulator(SimulatorConfig(today=DAY, limits_spec="global=50/1")) as sim:
        monkeypatch.setenv("IBKR_BASE_URL", sim.base_url)
        store = FilePacingStore(pacing_file(Settings.from_env(), sim.base_url))

        def box(state, now):  # type: ignore[no-untyped-def]
            state.scope("trades").penalty_until = now + 600

        store.transact(box)
        assert main(["doctor"]) == 1
    lines = _lines(capsys)
    assert lines["pacing"].startswith("FAIL") and "scope trades" in lines["pacing"] and "penalty box" in lines["pacing"]
