"""How much later than sent a request may reach IBKR, measured from round trips instead of assumed.

A rate window holds at IBKR only if requests arrive as far apart as they were sent (the pacer
records the time each one really went out). What moves an arrival is the one-way delay, which
varies with the network and with how busy both ends are. It cannot be seen directly, but it shows
in round trips: for one endpoint, a round trip longer than that endpoint's quickest recent one is
delay that was added on the way (or by a busy server). The margin kept on every window is the
configured floor plus the largest such excess among recent requests. On a quiet loopback it stays
near the floor; with a jittery network or a busy machine it grows, and the pacer spaces requests
further apart (costing throughput, which is cheap next to a ten-minute penalty box).
"""

from __future__ import annotations

import threading
from collections import deque

# Round trips remembered per endpoint (for its quickest) and excesses remembered overall.
_PER_ENDPOINT = 32
_EXCESSES = 64
# Until this many excesses are known, the longest round trip seen stands in for the spread (a start-up
# with little to compare is cautious rather than optimistic).
_MIN_EXCESSES = 8
# The margin never exceeds this: a very slow network costs throughput, a stalled answer must not
# stall every window for good.
MAX_MARGIN_SECONDS = 0.5


class JitterMeter:
    """Recent round trips of one client, and the pacing margin they call for."""

    def __init__(self, floor_seconds: float) -> None:
        self.floor = floor_seconds
        self._by_endpoint: dict[str, deque[float]] = {}
        self._excesses: deque[float] = deque(maxlen=_EXCESSES)
        self._longest = 0.0
        self._lock = threading.Lock()

    def add(self, endpoint: str, rtt_seconds: float) -> None:
        """Record one round trip (request written -> answer headers read) of ``endpoint``."""
        if rtt_seconds < 0:
            return
        with self._lock:
            self._longest = max(self._longest, rtt_seconds)
            recent = self._by_endpoint.setdefault(endpoint, deque(maxlen=_PER_ENDPOINT))
            if recent:
                self._excesses.append(max(0.0, rtt_seconds - min(recent)))
            recent.append(rtt_seconds)

    def spread(self) -> float:
        """The largest recent excess of a round trip over its endpoint's quickest (cautious at start-up)."""
        with self._lock:
            if len(self._excesses) < _MIN_EXCESSES:
                return self._longest
            return max(self._excesses)

    def margin(self) -> float:
        """Seconds to add to every rate window: the configured floor plus the measured spread (capped)."""
        return min(self.floor + self.spread(), max(self.floor, MAX_MARGIN_SECONDS))
