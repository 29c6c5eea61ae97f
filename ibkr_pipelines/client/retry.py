"""Retry timing: jittered exponential backoff under a total deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry transient failures (5xx, timeouts, resets, truncated bodies)."""

    max_attempts: int = 6
    base_seconds: float = 0.25
    cap_seconds: float = 8.0
    deadline_seconds: float = 120.0
    # IBKR's nightly /iserver reset answers 5xx for a few minutes: wait it out rather than fail the night.
    reset_window_seconds: float = 900.0
    reset_cap_seconds: float = 15.0
    # Connection refused: a gateway restarting comes back within seconds; one that is not running never does.
    unreachable_seconds: float = 10.0
    # However the failures come, a run gives up once IBKR has answered nothing but failures this long.
    outage_seconds: float = 900.0

    def backoff(self, attempt: int, rng: random.Random, *, cap: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (1-based): half fixed, half random."""
        ceiling = min(cap if cap is not None else self.cap_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)
