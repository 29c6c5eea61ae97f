"""The pieces of the UI tests: `dagster dev` in a folder of its own, and the processes it leaves (none).

``start_dagster_dev`` starts ``dagster dev -m assets.definitions`` (what ``make dev`` runs) in a folder of its
own: a fresh DAGSTER_HOME with a copy of ``dagster_home/dagster.yaml``, its own data and pacing
folders, the fast limits of ``tests/fast_limits.py`` on both sides and no ``IBKR_BASE_URL`` (each run
process starts the embedded simulator). It waits until the webserver answers GraphQL with the code
location loaded, and on teardown stops the whole process group the way Ctrl-C does, then checks that
no process it started is left and nothing listens on its port.

The tests drive it with a Playwright page in Debian's chromium (``/usr/bin/chromium``, installed by
``make system-deps``; Playwright's own browser download cannot be fetched here). Screenshots and, on
failure, a Playwright trace go to ``test-artifacts/ui/<test name>/`` (git-ignored), beside the
``dagster dev`` log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.e2e.cli_helpers import clean_env, free_port
from tests.fast_limits import FAST_LIMITS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
# The flags Chromium needs on these machines: no sandbox as root, no GPU, and no background
# connections (the network is closed; without these Chromium retries Google's hosts at every start).
# Playwright adds a fresh --user-data-dir of its own to every launch.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
STARTUP_SECONDS = 240  # two xdist workers share two cores: the code location can take a while to load
STOP_SECONDS = 60
LEFTOVER_GRACE_SECONDS = 30


def processes_with_env(marker: str) -> list[tuple[int, str]]:
    """Live processes (pid, command line) whose environment holds ``marker`` (``NAME=value``)."""
    needle = b"\0" + marker.encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in b"\0" + (entry / "environ").read_bytes():
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found.append((int(entry.name), command))
    return found


def wait_until_gone(marker: str, seconds: float) -> list[tuple[int, str]]:
    """Wait up to ``seconds`` for every process carrying ``marker`` to end; returns those still alive."""
    deadline = time.monotonic() + seconds
    while True:
        alive = processes_with_env(marker)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.5)


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def artifacts_dir(test_name: str) -> Path:
    """``test-artifacts/ui/<test name>/``, emptied at the start of the test."""
    folder = ARTIFACTS / test_name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@dataclass
class DagsterDev:
    """A running `dagster dev` and the folders it works in."""

    url: str
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    marker: str  # NAME=value in the environment of every process it starts
    log: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def db(self) -> Path:
        """The DuckDB warehouse the runs write."""
        return self.data_dir / "ibkr.duckdb"

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        """The ``data`` of a GraphQL query to the webserver (errors raise)."""
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30)
        answer.raise_for_status()
        body = answer.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _reset_sigint() -> None:
    # A background job of a non-interactive shell (CI's `make`, a `&`) inherits SIGINT ignored, and
    # `dagster dev` stops on SIGINT/SIGTERM only when SIGINT is handled: give it the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_dagster_dev(root: Path, log: Path, marker: str) -> DagsterDev:
    """Start `dagster dev` on a free loopback port (its own session: one process group to stop)."""
    port = free_port()
    name, value = marker.split("=", 1)
    env = clean_env(
        DAGSTER_HOME=str(root / "dagster_home"),
        IBKR_DATA_DIR=str(root / "data"),
        IBKR_PACING_DIR=str(root / "pacing"),
        IBKR_LIMITS=FAST_LIMITS,
        IBKR_SIM_LIMITS=FAST_LIMITS,
        IBKR_BAR_SIZES="1d,1h",  # a 30-day backfill of bars: one request per conid and size
        **{name: value},
    )
    dagster = Path(sys.executable).with_name("dagster")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(dagster), "dev", "-m", "assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_reset_sigint,
        )
    return DagsterDev(f"http://127.0.0.1:{port}", port, root, process, marker, log)


def wait_ready(dev: DagsterDev) -> None:
    """Until the webserver answers GraphQL with the project's assets loaded (or `dagster dev` exits)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {dev.process.returncode}:\n{dev.log_tail()}")
        try:
            if requests.get(f"{dev.url}/server_info", timeout=5).ok:
                nodes = dev.graphql("{ assetNodes { id } }")["assetNodes"]
                if nodes:
                    return
        except (requests.ConnectionError, requests.Timeout, ValueError, AssertionError):
            pass
        time.sleep(1)
    raise RuntimeError(f"dagster dev did not serve the asset graph within {STARTUP_SECONDS} s:\n{dev.log_tail()}")


def stop_dagster_dev(dev: DagsterDev) -> list[str]:
    """Stop `dagster dev` as Ctrl-C does and make sure nothing it started lives on; returns the problems."""
    problems = []
    try:
        os.killpg(dev.process.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        dev.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        problems.append(f"dagster dev did not stop within {STOP_SECONDS} s of SIGINT")
        try:
            os.killpg(dev.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        dev.process.wait(timeout=30)
    # Children may have left the group (a run's log tailer); the environment marker finds them all.
    leftovers = wait_until_gone(dev.marker, LEFTOVER_GRACE_SECONDS)
    if leftovers:
        problems.append("processes left running after dagster dev stopped: "
                        + "; ".join(f"{pid} {cmd[:160]}" for pid, cmd in leftovers))
        for pid, _ in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if listening(dev.port):
        problems.append(f"something still listens on 127.0.0.1:{dev.port}")
    return problems


