"""The Account Management API's rate limits (reference §3.1): 10 requests a second per endpoint and 600 a
minute per master account; beyond either, 429.

Authentication is per master account (§3.1), and the simulator's OAuth 2.0 clients stand for the
login's master, so both windows are kept per client id. guess: every arrival counts, refused ones too
(as pacing.py and the Flex token windows count them), and "an endpoint" is a method and a path
pattern (``GET /instructions/{instructionId}`` is one endpoint whatever the id). Windows slide on the
wall clock: limits are about real time, unlike the simulated clock instructions move on. One instance
per simulator polices every AM endpoint module together.
"""

from __future__ import annotations

import collections
import threading

PER_ENDPOINT = (10, 1.0)  # reference §3.1: 10 req/s per endpoint
PER_MASTER = (600, 60.0)  # reference §3.1: 600 req/min per master account


class AmLimits:
    """Thread-safe sliding windows per (client, endpoint) and per client; tests may narrow the two limits."""

    def __init__(self, per_endpoint: tuple[int, float] = PER_ENDPOINT,
                 per_master: tuple[int, float] = PER_MASTER) -> None:
        self.per_endpoint = per_endpoint
        self.per_master = per_master
        self._lock = threading.Lock()
        self._arrivals: dict[tuple[str, str], collections.deque[float]] = {}

    def throttled(self, client_id: str, endpoint: str, now: float) -> bool:
        """Count an arrival at ``now`` (wall seconds); True when the endpoint's or the master's window is over."""
        with self._lock:
            endpoint_over = self._over((client_id, endpoint), self.per_endpoint, now)
            return self._over((client_id, ""), self.per_master, now) or endpoint_over

    def _over(self, key: tuple[str, str], limit: tuple[int, float], now: float) -> bool:
        """Add ``now`` to one window and say whether it holds more arrivals than allowed (lock held)."""
        n, seconds = limit
        window = self._arrivals.setdefault(key, collections.deque())
        window.append(now)
        while window and window[0] <= now - seconds:
            window.popleft()
        return len(window) > n

    def reset(self) -> None:
        """Forget every window (``Simulator.reset_stats``)."""
        with self._lock:
            self._arrivals = {}
