"""A request is counted in the pacing windows from when it was written, not from its gate pass.

On a busy client the thread that passed the gate can lose the CPU before its bytes leave (the pacing
store's file write, urllib3's pool, a GIL hand-over): 47 ms was measured in a calm benchmark run. The
round trips behind the margin do not contain that delay, so it has to be taken out where it happens.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import Scope, default_limits
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore
from ibkr_pipelines.simulator import Simulator, SimulatorConfig
from tests.client.windows import max_in_window

# How much longer than the margin the stall lasts (the margin is about 20-30 ms on a quiet loopback).
OVER_MARGIN_SECONDS = 0.15


class LateAfterGate(Pacer):
    """A pacer whose calling thread stalls right after one chosen gate pass (as on a busy machine)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.stall_next = False
        self.stall_seconds = 0.0
        self.stalled = 0

    def gate(self, scopes: list[Scope], recorded: float) -> tuple[float, float]:
        """Pass the gate; stall afterwards when asked (once)."""
        out = super().gate(scopes, recorded)
        if self.stall_next:
            self.stall_next = False
            self.stalled += 1
            time.sleep(self.stall_seconds)
        return out


def test_a_request_written_late_after_its_gate_still_keeps_the_window(tmp_path: Path) -> None:
    sim = Simulator(SimulatorConfig(seed=3, today=datetime.date(2026, 11, 20), penalty_seconds=1.0)).start()
    limits = default_limits("gateway", penalty_seconds=1.0)  # 10 per 1 s, IBKR's gateway limit
    pacer = LateAfterGate(limits, FilePacingStore(tmp_path / "pacing.json"))
    client = IbkrClient(sim.base_url, auth=GatewayAuth(poll_seconds=0.05), pacer=pacer, timeout_seconds=5.0, seed=1)
    try:
        client.start()
        account = client.get("/portfolio/accounts")[0]["id"]
        for _ in range(12):  # warm up: the connection is open and the jitter meter has its samples
            client.get(f"/portfolio/{account}/ledger")
        time.sleep(1.2)  # the warm-up leaves every window
        sim.reset_stats()
        # The first of eleven reaches IBKR well after its gate pass: longer than the margin, shorter than a window.
        pacer.stall_seconds = min(pacer.meter.margin() + OVER_MARGIN_SECONDS, 0.8)
        pacer.stall_next = True
        for _ in range(11):
            client.get(f"/portfolio/{account}/ledger")
        stats = sim.stats()
    finally:
        client.close()
        sim.stop()
    arrivals = [entry[0] for entry in stats["log"]]
    assert pacer.stalled == 1
    assert stats["total_throttled"] == 0
    assert max_in_window(arrivals, 1.0) <= 10
    assert len(arrivals) == 11
