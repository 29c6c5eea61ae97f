"""Two ingest processes against one gateway share one pacing budget; the simulator command serves."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ibkr_pipelines.client.limits import GLOBAL
from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.sources import nightly_tables, source_of
from ibkr_pipelines.trading_calendar import trading_date

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("ibkr-pipelines")
SELECT = ",".join(t for t in nightly_tables() if source_of(t).name != "performance")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBKR_", "DAGSTER_"))}
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.serial
def test_two_concurrent_ingests_stay_under_the_gateway_limit_together(tmp_path: Path) -> None:
    # A gateway serves "now", so the CLI only accepts today's trading date (or yesterday's, after
    # midnight in New York): both runs are told the date the simulator serves, and the one-day grace
    # keeps this true even if New York's midnight passes while the test runs.
    today = trading_date()
    simulator = Simulator(SimulatorConfig(today=today)).start()  # IBKR's gateway limits
    try:
        procs = []
        for name in ("first", "second"):
            work = tmp_path / name
            (work / "dagster_home").mkdir(parents=True)
            shutil.copy(ROOT / "dagster_home" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
            env = _env(IBKR_BASE_URL=simulator.base_url, IBKR_PACING_DIR=str(tmp_path / "pacing"))
            # Everything but the /pa call: IBKR allows one per 15 minutes per login, so a second night
            # beside the first rightly waits that long for it (not what this test measures).
            procs.append(subprocess.Popen([str(EXE), "ingest", "--date", today.isoformat(), "--select", SELECT],
                                          cwd=work, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outputs = [p.communicate(timeout=300) for p in procs]
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err[-3000:]
            assert "positions" in out
        stats = simulator.stats()
        assert stats["total_throttled"] == 0
        assert stats["scopes"][GLOBAL]["max_in_window"] <= 10
        assert stats["scopes"]["portfolio_accounts"]["max_in_window"] <= 1
        assert stats["total_requests"] >= 60, "both runs really went through the one gateway"
    finally:
        simulator.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulator_command_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([str(EXE), "simulator", "--port", str(port)], env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/v1/api/portfolio/accounts", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()[0]["id"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"127.0.0.1:{port}/v1/api" in out
    assert proc.returncode in (0, 130)
