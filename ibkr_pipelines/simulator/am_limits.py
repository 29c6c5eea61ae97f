"""The Account Management API's rate limits (reference §3.1, §5.2), policed apart from any client setting.

"10 req/s per endpoint and 600 req/min per master account"; above them IBKR answers 429. The numbers
are the reference's, written here and nowhere else (not ``limits.py``, which holds the Client Portal's
table, and never the client's ``IBKR_LIMITS``). Guesses:

- the master account is the OAuth 2.0 client (one registered client per master account: "Authentication
  works at master-account level, not per user"), so both limits are kept per client id;
- "per endpoint" means per endpoint of that master account, an endpoint being a method and path with
  ids folded (``limits.endpoint_key``);
- as in pacing.py, every arrival counts, the refused ones included (that is what IBKR sees); a window
  "N per P s" is broken when, counting this arrival, more than N arrivals fell in (t-P, t];
- no penalty box: §5.3's is documented for the Client Portal API only.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

from ibkr_pipelines.simulator.pacing import arrivals_within, record_arrival


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any ``seconds``-long window."""

    count: int
    seconds: float


PER_ENDPOINT = Rate(10, 1.0)  # reference §3.1: 10 req/s per endpoint
PER_MASTER = Rate(600, 60.0)  # reference §3.1: 600 req/min per master account


class AmLimiter:
    """Thread-safe sliding windows per (client, endpoint) and per client; says which limit an arrival breaks."""

    def __init__(self, per_endpoint: Rate = PER_ENDPOINT, per_master: Rate = PER_MASTER) -> None:
        self.per_endpoint = per_endpoint
        self.per_master = per_master
        self._lock = threading.Lock()
        self._arrivals: dict[tuple[str, str], collections.deque[float]] = {}

    def reset(self) -> None:
        """Forget every window (a fresh start, as ``Simulator.reset_stats`` gives the Client Portal pacer)."""
        with self._lock:
            self._arrivals = {}

    def arrive(self, client_id: str, endpoint: str, t: float) -> str | None:
        """Count an arrival at wall-clock ``t``; "per_endpoint" or "per_master" when it breaks that limit, else None."""
        with self._lock:
            broke_endpoint = self._over((client_id, endpoint), self.per_endpoint, t)
            broke_master = self._over((client_id, ""), self.per_master, t)
        if broke_endpoint:
            return "per_endpoint"
        return "per_master" if broke_master else None

    def _over(self, key: tuple[str, str], rate: Rate, t: float) -> bool:
        """Record ``t`` in ``key``'s window and say whether it now holds more than ``rate`` allows (lock held)."""
        dq = self._arrivals.setdefault(key, collections.deque())
        record_arrival(dq, t, rate.seconds)
        return arrivals_within(dq, t, rate.seconds) > rate.count
