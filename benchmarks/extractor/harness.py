"""Plumbing for the extractor benchmark: a simulator in its own process, clients, and measurement.

The simulator runs in a separate (spawned) process by default, as IBKR runs on another machine: its
HTTP threads then do not compete for the benchmark's GIL, and its arrival timestamps are not skewed
by the client's own work. ``time.monotonic()`` is CLOCK_MONOTONIC on Linux and macOS, one clock for
every process on the machine, so the simulator's log and the client's timings can be compared.
"""

from __future__ import annotations

import datetime
import multiprocessing
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
import multiprocessing.connection
from pathlib import Path
from typing import Any, Iterator, Protocol

import requests

from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import GLOBAL, Limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.simulator import Simulator, SimulatorConfig

TODAY = datetime.date(2026, 11, 20)  # a fixed simulated date: every run sees the same world
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Conditions:
    """The weather a scenario runs in: random arrival delays at the simulator, busy processes beside it.

    ``jitter_seconds``: every request reaches the simulator after a random 0..J s delay (the simulator's
    ``arrival_jitter_seconds``), as over a jittery network; ``cpu_hogs``: processes spinning on the
    CPU for the whole scenario, so the client's threads and the simulator wake late.
    """

    jitter_seconds: float = 0.0
    cpu_hogs: int = 0

    @property
    def stressed(self) -> bool:
        """True when the scenario runs in anything but calm weather."""
        return self.jitter_seconds > 0 or self.cpu_hogs > 0

    def describe(self) -> dict[str, Any]:
        """The conditions for the JSON line."""
        return {"jitter_s": self.jitter_seconds, "cpu_hogs": self.cpu_hogs}


CALM = Conditions()


def _spin(stop: Any) -> None:
    """A CPU hog's body: burn cycles until told to stop."""
    while not stop.is_set():
        for _ in range(100_000):
            pass


@contextmanager
def cpu_hogs(count: int) -> Iterator[None]:
    """``count`` spawned processes spinning on the CPU while the block runs (none when 0)."""
    if count <= 0:
        yield
        return
    stop = SPAWN.Event()
    hogs = [SPAWN.Process(target=_spin, args=(stop,), name=f"cpu-hog-{n}", daemon=True) for n in range(count)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        stop.set()
        for hog in hogs:
            hog.join(timeout=10)
            if hog.is_alive():
                hog.terminate()


class SimHandle(Protocol):
    """What a scenario needs from a running simulator, wherever it runs."""

    base_url: str

    def stats(self) -> dict[str, Any]:
        """The simulator's counters and request log (see ``Simulator.stats``)."""
        ...

    def reset_stats(self) -> None:
        """Forget counters, rate windows and penalty boxes."""
        ...

    def force_penalty(self, scope: str, seconds: float) -> None:
        """The next request in ``scope`` answers 429 and boxes the scope for ``seconds``."""
        ...

    def stop(self) -> None:
        """Stop serving."""
        ...


class LocalSim:
    """A simulator on a thread of this process (quick to start; shares this process's GIL)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.sim = Simulator(config).start()
        self.base_url = self.sim.base_url

    def stats(self) -> dict[str, Any]:
        """The simulator's counters and request log."""
        return self.sim.stats()

    def reset_stats(self) -> None:
        """Forget counters, rate windows and penalty boxes."""
        self.sim.reset_stats()

    def force_penalty(self, scope: str, seconds: float) -> None:
        """Force a 429 and a penalty box on the next request in ``scope``."""
        self.sim.force_penalty(scope, seconds)

    def stop(self) -> None:
        """Stop serving."""
        self.sim.stop()


def _serve_in_child(config: SimulatorConfig, conn: multiprocessing.connection.Connection) -> None:
    """Child process body: serve until the parent says stop (or goes away)."""
    sim = Simulator(config).start()
    conn.send(sim.base_url)
    try:
        conn.recv()
    except EOFError:
        pass
    finally:
        sim.stop()


class ProcessSim:
    """A simulator in a spawned child process, driven through its ``/sim/*`` control endpoints."""

    def __init__(self, config: SimulatorConfig, start_timeout: float = 60.0) -> None:
        self._conn, child_end = SPAWN.Pipe()
        self._proc = SPAWN.Process(target=_serve_in_child, args=(config, child_end), name="ibkr-sim", daemon=True)
        self._proc.start()
        child_end.close()
        if not self._conn.poll(start_timeout):
            self._proc.terminate()
            raise RuntimeError("the simulator process did not start")
        self.base_url = str(self._conn.recv())
        self._root = self.base_url.rsplit("/v1/api", 1)[0]
        self._http = requests.Session()

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self._http.request(method, self._root + path, json=body, timeout=60)
        r.raise_for_status()
        return r.json()

    def stats(self) -> dict[str, Any]:
        """The simulator's counters and request log (``GET /sim/stats``)."""
        return dict(self._control("GET", "/sim/stats"))

    def reset_stats(self) -> None:
        """``POST /sim/reset-stats``."""
        self._control("POST", "/sim/reset-stats")

    def force_penalty(self, scope: str, seconds: float) -> None:
        """``POST /sim/penalty``."""
        self._control("POST", "/sim/penalty", {"scope": scope, "seconds": seconds})

    def stop(self) -> None:
        """Ask the child to stop and wait for it."""
        self._http.close()
        try:
            self._conn.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=5)
        self._conn.close()


def start_simulator(config: SimulatorConfig, *, in_process: bool = False) -> SimHandle:
    """Start a simulator with ``config``, in this process or (default) in a child process."""
    return LocalSim(config) if in_process else ProcessSim(config)


@contextmanager
def simulator_with_client(
    config: SimulatorConfig, limits: Limits, *, in_process: bool, prefix: str, **client_options: Any
) -> Iterator[tuple[SimHandle, IbkrClient]]:
    """A simulator and a started client on a fresh pacing file; the client closes, then the simulator stops."""
    sim = start_simulator(config, in_process=in_process)
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            client = make_client(sim.base_url, limits, Path(tmp) / "pacing.json", **client_options)
            try:
                client.start()
                yield sim, client
            finally:
                client.close()
    finally:
        sim.stop()


def make_client(base_url: str, limits: Limits, pacing_file: Path, *, timeout: float = 30.0,
                retry: RetryPolicy | None = None, seed: int | None = None) -> IbkrClient:
    """A production-like client: the given limits, a ``FilePacingStore`` shared through ``pacing_file``."""
    return IbkrClient(
        base_url,
        auth=GatewayAuth(poll_seconds=0.05),
        pacer=Pacer(limits, FilePacingStore(pacing_file)),
        timeout_seconds=timeout,
        retry=retry,
        seed=seed,
    )


def arrivals(stats: dict[str, Any], endpoint: str | None = None) -> list[float]:
    """Sorted arrival times (monotonic s) of the logged requests, optionally of one endpoint key."""
    return sorted(e[0] for e in stats["log"] if endpoint is None or e[2] == endpoint)


def measure(
    stats: dict[str, Any], last_answer: float, limit_per_s: float, bound_per_s: float | None = None
) -> dict[str, Any]:
    """requests, seconds (first arrival to last answer), limit_per_s, utilization, throttled.

    ``bound_per_s`` is the most the limit allows in the scenario's conditions (with arrival jitter J, a
    window of N per P seconds is only safe at N / (P + J)); utilization is also given against it.
    """
    times = arrivals(stats)
    requests_seen = int(stats["total_requests"])
    seconds = max(last_answer - times[0], 1e-9) if times else 0.0
    rate = requests_seen / seconds if seconds else 0.0
    out = {
        "requests": requests_seen,
        "seconds": round(seconds, 3),
        "limit_per_s": limit_per_s,
        "utilization": round(rate / limit_per_s, 4),
        "throttled": int(stats["total_throttled"]),
    }
    if bound_per_s is not None and bound_per_s != limit_per_s:
        out["jitter_bound_per_s"] = round(bound_per_s, 3)
        out["utilization_vs_jitter_bound"] = round(rate / bound_per_s, 4)
    return out


def gaps(stats: dict[str, Any], limit_per_s: int) -> dict[str, Any]:
    """Idle time and jitter margin of the global scope, from the simulator's arrival times.

    ``longest_gap_s`` (and when, from the first arrival) is the longest time without an arrival;
    ``stall_seconds`` sums, over consecutive arrivals more than three nominal spacings apart, the part
    of the gap beyond one spacing: time in which the limit allowed requests but none came.
    ``min_span_of_n_plus_1_s`` is the shortest time covering N+1 consecutive arrivals (N the limit per
    second): above 1.0 s no 1 s window ever held more than N; the pacer aims at 1.0 s + safety.
    """
    times = arrivals(stats)
    spacing = 1.0 / limit_per_s
    deltas = [b - a for a, b in zip(times, times[1:])]
    stall = sum(d - spacing for d in deltas if d > 3 * spacing)
    longest = max(range(len(deltas)), key=deltas.__getitem__, default=None)
    spans = [b - a for a, b in zip(times, times[limit_per_s:])]
    return {
        "longest_gap_s": round(deltas[longest], 3) if longest is not None else 0.0,
        "longest_gap_at_s": round(times[longest] - times[0], 3) if longest is not None else None,
        "stall_seconds": round(stall, 3),
        "min_span_of_n_plus_1_s": round(min(spans), 4) if spans else None,
    }


def scope_stats(stats: dict[str, Any], scope: str = GLOBAL) -> dict[str, Any]:
    """The simulator's counters of one scope (empty when the scope saw no request)."""
    return dict(stats.get("scopes", {}).get(scope, {}))
