"""Two ingest processes against one gateway share one pacing budget; the simulator command serves."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from ibkr_pipelines.client.limits import GLOBAL
from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.sources import nightly_tables, source_of
from tests.e2e.cli_helpers import EXE, FAKETIME_LIB, NO_FAKETIME, ROOT, clean_env, faked_clock, free_port, kill_group

# Everything but the /pa call, executions and bars: IBKR allows one /pa call per 15 minutes per login,
# so a second night beside the first rightly waits that long for it; the trades endpoint's 1 per 5 s
# held two nights' 16 calls at ~80 s; and bars' ~150 requests a night only lengthen the shared wait at
# 10 per second. What is left (~25 requests each in the first second, the per-account reads) is past
# the global limit the test measures, and the account listings' limit.
SELECT = ",".join(t for t in nightly_tables() if source_of(t).name not in ("performance", "executions", "bars"))


# A gateway serves "now", so the CLI only accepts today's trading date: both runs' clocks start at a
# fixed New York afternoon (libfaketime), and the simulator serves that date.
TODAY = dt.date(2026, 11, 20)
AFTERNOON = (f"{TODAY} 15:00:00", "America/New_York")


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.skipif(FAKETIME_LIB is None, reason=NO_FAKETIME)
def test_two_concurrent_ingests_stay_under_the_gateway_limit_together(tmp_path: Path) -> None:
    simulator = Simulator(SimulatorConfig(today=TODAY)).start()  # IBKR's gateway limits
    procs: list[subprocess.Popen[str]] = []
    try:
        for name in ("first", "second"):
            work = tmp_path / name
            (work / "dagster_home").mkdir(parents=True)
            shutil.copy(ROOT / "dagster_home" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
            env = clean_env(IBKR_BASE_URL=simulator.base_url, IBKR_PACING_DIR=str(tmp_path / "pacing"),
                            **faked_clock(*AFTERNOON))
            procs.append(subprocess.Popen([str(EXE), "ingest", "--date", TODAY.isoformat(), "--select", SELECT],
                                          cwd=work, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          start_new_session=True))
        outputs = [p.communicate(timeout=240) for p in procs]
        for proc, (out, err) in zip(procs, outputs):
            assert proc.returncode == 0, err[-3000:]
            assert "positions" in out
        stats = simulator.stats()
        assert stats["total_throttled"] == 0
        # At the limit, not under it: the two runs together asked for more than 10 a second (else this measures nothing).
        assert stats["scopes"][GLOBAL]["max_in_window"] == 10
        assert stats["scopes"]["portfolio_accounts"]["max_in_window"] <= 1
        assert stats["total_requests"] >= 60, "both runs really went through the one gateway"
    finally:
        for proc in procs:  # a failed or timed-out test leaves no ingest (nor its children) running
            kill_group(proc)
        simulator.stop()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell script's background job starts


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_simulator_command_serves_until_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen([str(EXE), "simulator", "--port", str(port)], env=clean_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_ignore_sigint)
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
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert f"127.0.0.1:{port}/v1/api" in out
    assert "IBKR simulator stopped" in out, "stopped through its own stop, not killed by the signal"
    assert proc.returncode == 0
