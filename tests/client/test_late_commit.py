"""A send time the pacing store commits late does not let the next request go early.

The pacer records a request in its windows when its write to the socket returns (``wire``), so a
slow commit of the pacing file before the write cannot leave a stale time behind.

The regression: in a backfill's ``stage_accounts`` step the pacing file's commit of one
/portfolio/accounts send time took 252 ms (a busy disk); that request reached IBKR 252 ms after the
time its window held, and the next one, spaced from the stale time, arrived 4.79 s after it: 429 and
a ten-minute penalty box.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from ibkr_pipelines.client.auth import GatewayAuth
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.client.pacer import Pacer, current_slot
from ibkr_pipelines.client.pacing_store import FilePacingStore, PacingState, PacingStore
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.simulator import Simulator, SimulatorConfig

T = TypeVar("T")
ACCOUNTS = "portfolio_accounts"
# Longer than the largest margin the jitter meter can ask for (MAX_MARGIN_SECONDS), so no margin hides it.
STALL_SECONDS = 0.7


class SlowGateStore:
    """A pacing store whose next commit made at a gate (the caller holds a slot) ends ``seconds`` late."""

    def __init__(self, inner: PacingStore) -> None:
        self.inner = inner
        self.stall_seconds = 0.0
        self.stall_ended: float | None = None

    def stall_next_gate(self, seconds: float) -> None:
        self.stall_seconds = seconds

    def now(self) -> float:
        return self.inner.now()

    def transact(self, fn: Callable[[PacingState, float], T]) -> T:
        def committed_late(state: PacingState, now: float) -> T:
            result = fn(state, now)
            if self.stall_seconds and current_slot() is not None:
                time.sleep(self.stall_seconds)  # the state is written only after this, as on a busy disk
                self.stall_seconds, self.stall_ended = 0.0, self.inner.now()
            return result

        return self.inner.transact(committed_late)

    def peek(self, fn: Callable[[PacingState, float], T]) -> T:
        return self.inner.peek(fn)


def test_a_slow_pacing_commit_does_not_send_the_next_listing_early(tmp_path: Path) -> None:
    # /portfolio/accounts at 1 per 1 s on both sides (IBKR: 1 per 5 s) keeps the test short.
    spec = f"{ACCOUNTS}=1/1"
    sim = Simulator(SimulatorConfig(seed=3, today=datetime.date(2026, 11, 20), penalty_seconds=1.0,
                                    limits_spec=spec)).start()
    store = SlowGateStore(FilePacingStore(tmp_path / "pacing.json"))
    limits = default_limits("gateway", penalty_seconds=1.0).with_overrides(spec)
    client = IbkrClient(sim.base_url, auth=GatewayAuth(poll_seconds=0.05), pacer=Pacer(limits, store),
                        retry=RetryPolicy(base_seconds=0.05, cap_seconds=0.2), seed=1)
    listed = []

    def after_answer(method: str, path: str, *_: Any) -> None:
        listed.append(path)
        if listed.count("/portfolio/accounts") == 1 and path == "/portfolio/accounts":
            store.stall_next_gate(STALL_SECONDS)  # the second listing's send time is committed late

    client.add_response_hook(after_answer)
    try:
        with client:
            for _ in range(3):
                client.get("/portfolio/accounts")
        stats = sim.stats()
    finally:
        sim.stop()
    assert store.stall_ended is not None, "the second listing's gate was slowed"
    assert stats["endpoints"]["GET /portfolio/accounts"] == {"requests": 3, "throttled": 0, "statuses": {"200": 3}}
    assert stats["total_throttled"] == 0 and client.stats.totals().throttled == 0
