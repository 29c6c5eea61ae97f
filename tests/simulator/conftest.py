"""Fixtures: a shared world, simulators started on port 0 and always stopped, and simulator CLI processes."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from ibkr_pipelines.simulator import api as api_module
from ibkr_pipelines.simulator.lru import Lru
from ibkr_pipelines.simulator.server import BUILD_MARGIN
from ibkr_pipelines.simulator.world import World

TODAY = datetime.date(2026, 11, 20)
# Limits loose enough that tests not about pacing never hit a 429.
LENIENT = ("global=100000/1,portfolio_accounts=100000/1,portfolio_subaccounts=100000/1,tickle=100000/1,"
           "sso_validate=100000/1,pnl_partitioned=100000/1,orders=100000/1,trades=100000/1")


@pytest.fixture(scope="session")
def world() -> World:
    """The seed-7 world as a simulator at TODAY builds it: through TODAY plus the margin (built once)."""
    return World(7, TODAY + BUILD_MARGIN)


@pytest.fixture
def separate_worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each simulator builds its own world: for tests that two builds of one seed agree (simulators otherwise share
    the process's built world, api._WORLDS)."""
    monkeypatch.setattr(api_module, "_WORLDS", Lru(0))


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Factory: start a simulator with config overrides (lenient limits unless given); stops all."""
    started: list[Simulator] = []

    def factory(**kw: Any) -> Simulator:
        kw.setdefault("today", TODAY)
        kw.setdefault("limits_spec", LENIENT)
        sim = Simulator(SimulatorConfig(**kw)).start()
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """A default simulator with lenient limits."""
    return make_sim()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP session."""
    with requests.Session() as s:
        yield s


def list_accounts(http: requests.Session, sim: Simulator) -> list[str]:
    """Satisfy the /portfolio call-order rule for every account: the listings that name them all."""
    b = sim.base_url
    r = http.get(b + "/portfolio/accounts")
    assert r.status_code == 200, r.text
    ids = [a["id"] for a in r.json()]
    r = http.get(b + "/portfolio/subaccounts")
    assert r.status_code == 200, r.text
    ids += [a["id"] for a in r.json()]
    if len(r.json()) >= 100:  # more than 100: page through /portfolio/subaccounts2
        page = 0
        while True:
            chunk = http.get(b + "/portfolio/subaccounts2", params={"page": page}).json()["subaccounts"]
            ids += [a["id"] for a in chunk]
            if len(chunk) < 20:
                break
            page += 1
    return sorted(set(ids))


def open_brokerage(http: requests.Session, sim: Simulator) -> None:
    """(Re)open the brokerage tier without competing, and list every account (the call-order rule)."""
    r = http.post(sim.base_url + "/iserver/auth/ssodh/init", json={"publish": True, "compete": False})
    assert r.status_code == 200, r.text
    list_accounts(http, sim)


EXE = Path(sys.executable).with_name("ibkr-pipelines")


def _env() -> dict[str, str]:
    """The environment without any IBKR_/DAGSTER_ setting (a simulator CLI takes none of them)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("IBKR_", "DAGSTER_"))}


def _free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def run_cli() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``ibkr-pipelines simulator`` processes; every one is interrupted and reaped at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([str(EXE), "simulator", *args], env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
