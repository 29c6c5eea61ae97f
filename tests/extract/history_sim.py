"""One simulator and one paced gateway client per test module, for the history tests (planner, many series)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.simulator import Simulator, SimulatorConfig

TODAY = dt.date(2026, 11, 20)


def start_simulator() -> Simulator:
    """The demo world's simulator at TODAY, with IBKR's limits."""
    return Simulator(SimulatorConfig(seed=7, today=TODAY)).start()


def gateway_client(sim: Simulator, folder: Path) -> IbkrClient:
    """A client with IBKR's gateway limits (a 1 s penalty box) and quick retries; open it with ``with``.

    One per module: a new client per test would tickle again, and /tickle allows 1 per second.
    """
    return IbkrClient(
        sim.base_url,
        auth=GatewayAuth(poll_seconds=0.05),
        pacer=Pacer(default_limits("gateway", penalty_seconds=1.0), FilePacingStore(folder / "pacing.json")),
        retry=RetryPolicy(base_seconds=0.05, cap_seconds=0.2, deadline_seconds=20, reset_window_seconds=20),
        seed=1,
    )
