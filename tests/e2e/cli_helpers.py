"""Running ``ibkr-pipelines`` as a user does, in a work folder of its own, and reading what it left."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from tests.fast_limits import FAST_LIMITS, TEST_BAR_SIZES, WATCHLIST
from ibkr_pipelines.sources import nightly_tables

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("ibkr-pipelines")
DATA_TABLES = tuple(nightly_tables())
# Fast pacing for probes that are not about pacing: the client's limits and, separately, the embedded simulator's.
FAST = FAST_LIMITS
# The date of the session's uninterrupted night (conftest.night), which several tests compare with or copy.
NIGHT = "2026-11-20"


# The monotonic clock is left alone; and without FORCE_MONOTONIC_FIX=0 this build's timed waits spin on
# its mutex (an ingest took 154 s of CPU instead of 35 s).
_WALL_CLOCK_ONLY = {"FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_FORCE_MONOTONIC_FIX": "0"}


def _faketime_library() -> tuple[str | None, str]:
    """The libfaketime build shipped in PyPI's ``libfaketime`` package, if it fakes this machine's clock as needed."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or not spec.submodule_search_locations:
        return None, "needs PyPI's libfaketime (in the test extras: make test installs it)"
    path = os.path.join(spec.submodule_search_locations[0], "vendor", "libfaketime", "src", "libfaketime.so.1")
    # What the tests rely on, in a child: the wall clock faked, the monotonic clock real, and timed
    # waits and sleeps returning (a prebuilt library of another architecture is silently not loaded).
    probe = ("import threading, time; lock = threading.Lock(); lock.acquire(); lock.acquire(timeout=0.05); "
             "time.sleep(0.01); print(time.gmtime().tm_year)")
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=20,
                              env={**os.environ, "LD_PRELOAD": path, "FAKETIME": "@2001-02-03 04:05:06",
                                   "TZ": "UTC", **_WALL_CLOCK_ONLY})
    except subprocess.TimeoutExpired:
        return None, f"{path} hangs Python's timed waits on this machine"
    if done.returncode != 0 or done.stdout.strip() != "2001":
        return None, f"{path} does not fake this machine's clock: {(done.stderr or done.stdout).strip()[-200:]}"
    return path, ""


# libfaketime, preloaded directly (no ``faketime`` wrapper: it leaves a semaphore in /dev/shm behind a
# killed test). PyPI's build, not Debian's 0.9.10 package: with Debian's, Python's timed lock waits never
# return (monotonic clock faked) or ``time.sleep`` fails with EINVAL (monotonic clock real).
FAKETIME_LIB, NO_FAKETIME = _faketime_library()


def faked_clock(local: str, tz: str) -> dict[str, str]:
    """The environment (TZ and libfaketime) in which a process starts at ``local``, wall time in ``tz``.

    The wall clock is shifted by an offset, not started at a fixed instant (libfaketime's ``@`` form),
    so every process given the same target reads one clock; the monotonic clock stays the machine's,
    which processes sharing the pacing store compare. Computing the offset is the one use of the
    machine's clock here: what the process sees is ``local``, at whatever hour the test runs.
    """
    assert FAKETIME_LIB is not None, NO_FAKETIME
    target = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz))
    offset = round(target.timestamp() - time.time())
    return {"TZ": tz, "LD_PRELOAD": FAKETIME_LIB, "FAKETIME": f"{offset:+d}s", **_WALL_CLOCK_ONLY}


def free_port() -> int:
    """A loopback port nobody listens on (right now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any IBKR_/DAGSTER_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBKR_", "DAGSTER_", "FAKETIME", "LD_PRELOAD"))}
    env.update(extra)
    return env


@dataclass
class Workdir:
    """A folder where a user runs the CLI: its own Dagster home, data folder and pacing state."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, root: Path, **env: str) -> "Workdir":
        """Create the folder with a copy of the project's dagster.yaml."""
        (root / "dagster_home").mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
        base = {"IBKR_PACING_DIR": str(root / "pacing"), "IBKR_LIMITS": FAST, "IBKR_SIM_LIMITS": FAST,
                "IBKR_WATCHLIST": WATCHLIST, "IBKR_BAR_SIZES": TEST_BAR_SIZES}
        base.update(env)
        return cls(root, base)

    @property
    def db(self) -> Path:
        """The warehouse file the CLI writes."""
        return self.root / "data" / "ibkr.duckdb"

    def run(self, args: list[str], *, timeout: float = 300, **env: str) -> Any:
        """Run the CLI to completion; returns the CompletedProcess (text) plus ``.seconds``."""
        started = time.monotonic()
        # Its own process group: a timeout ends the CLI and anything it started.
        proc = subprocess.Popen([str(EXE), *args], cwd=self.root, env=clean_env(**{**self.env, **env}),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        done.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        return done

    def start(self, args: list[str], *, python_args: list[str] | None = None, **env: str) -> subprocess.Popen[str]:
        """Start the CLI (or ``python <python_args>``) in the background, in its own process group."""
        command = [sys.executable, *python_args] if python_args else [str(EXE), *args]
        return subprocess.Popen(
            command,
            cwd=self.root,
            env=clean_env(**{**self.env, "PYTHONPATH": str(ROOT), **env}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the warehouse (read-only)."""
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()

    def table_hashes(self) -> dict[str, str]:
        """A content hash per data table (rows sorted), to compare whole tables, not counts."""
        if not self.db.exists():
            return {}
        hashes = {}
        with duckdb.connect(str(self.db), read_only=True) as con:
            for table in DATA_TABLES:
                rows = con.execute(f"SELECT * FROM {table}").fetchall()
                digest = hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()
                hashes[table] = f"{len(rows)}:{digest[:16]}"
        return hashes


def wait_for_line(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    """Read the process's stderr until a line contains ``marker``; returns the lines read."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"never saw {marker!r}; stderr so far:\n{''.join(seen)[-3000:]}")


def kill_group(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process's whole group and reap it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def failure_lines(stderr: str) -> list[str]:
    """The ``FAILED <table>: why`` lines the CLI printed."""
    return [line for line in stderr.splitlines() if line.startswith("FAILED ")]


def copy_of_night(night: Workdir, root: Path) -> Workdir:
    """A work folder of its own holding what a night landed (warehouse, lake, archive, Dagster home), to run on."""
    shutil.copytree(night.root, root, ignore=shutil.ignore_patterns(".landed"), dirs_exist_ok=True)
    return Workdir.make(root)
