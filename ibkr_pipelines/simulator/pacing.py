"""Exact enforcement of the pacing Limits (rate windows, concurrency, penalty box) plus counters.

A rate window "N per P s" is violated when, counting this arrival, more than N arrivals fell in
(t-P, t]. Every arrival counts, including rejected ones (that is what IBKR sees). A concurrency
cap counts requests from arrival until the response is sent. A violation answers 429 and boxes the
violated scope (or everything, in "ip" mode) for the penalty duration.
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from ibkr_pipelines.simulator.limits import PacedScope, SimLimits, endpoint_key

IP_SCOPE = "ip"
LOG_MAX = 200_000


@dataclass
class _ScopeState:
    scope: PacedScope
    windows: list[tuple[int, float, collections.deque[float]]]
    stat_window: float
    stat_deque: collections.deque[float] = field(default_factory=collections.deque)
    requests: int = 0
    throttled: int = 0
    max_in_window: int = 0
    in_flight: int = 0
    max_concurrency: int = 0
    busy_seconds: float = 0.0  # summed arrival-to-answer time: how full a concurrency limit was kept


@dataclass
class Ticket:
    """One admitted-or-rejected request: which scopes it holds and the pacing verdict."""

    method: str
    key: str
    scopes: list[str]
    arrival: float
    throttled: bool = False
    retry_after: int | None = None


def _count_in(dq: collections.deque[float], start: float, end: float) -> int:
    return sum(1 for x in dq if start < x <= end)


def record_arrival(dq: collections.deque[float], t: float, keep_seconds: float) -> None:
    """Add arrival ``t`` to a sliding window and drop those older than ``keep_seconds`` (plus a 1 s margin)."""
    dq.append(t)
    while dq and dq[0] <= t - keep_seconds - 1.0:  # keep a margin for out-of-order arrivals
        dq.popleft()


def arrivals_within(dq: collections.deque[float], t: float, seconds: float) -> int:
    """How many arrivals of the window lie in the ``seconds`` ending at ``t``."""
    return _count_in(dq, t - seconds, t)


class Pacer:
    """Holds the per-scope arrival windows, in-flight counts, penalty boxes and all counters."""

    def __init__(self, limits: SimLimits, penalty_scope: str = "scope") -> None:
        if penalty_scope not in ("scope", "ip"):
            raise ValueError("penalty_scope must be 'scope' or 'ip'")
        self.limits = limits
        self.penalty_scope = penalty_scope
        self._lock = threading.Lock()
        self._forced: dict[str, float] = {}
        self.reset_stats()

    def reset_stats(self) -> None:
        """Forget counters, windows and penalty boxes (a fresh start for a benchmark)."""
        with getattr(self, "_lock", threading.Lock()):
            self._scopes: dict[str, _ScopeState] = {}
            for name, sc in self.limits.scopes.items():
                wins = [(w.count, w.seconds, collections.deque()) for w in sc.windows]
                shortest = min((w.seconds for w in sc.windows), default=1.0)
                self._scopes[name] = _ScopeState(sc, wins, shortest)
            self._boxes: dict[str, float] = {}
            self.penalties: list[dict[str, Any]] = []
            self.total_requests = 0
            self.total_throttled = 0
            self.endpoints: dict[str, dict[str, Any]] = {}
            self.log: collections.deque[list[Any]] = collections.deque(maxlen=LOG_MAX)

    def force_penalty(self, scope: str, seconds: float) -> None:
        """Make the next request in ``scope`` answer 429 and box the scope for ``seconds``."""
        with self._lock:
            self._forced[scope] = seconds

    def arrive(self, method: str, path: str, t: float) -> Ticket:
        """Record an arrival at monotonic time t in every scope of the request and judge it."""
        scopes = self.limits.scopes_for(method, path)
        names = [s.name for s in scopes]
        ticket = Ticket(method, endpoint_key(method, path), names, t)
        with self._lock:
            self.total_requests += 1
            counts: dict[str, bool] = {}
            for name in names:
                st = self._scopes[name]
                st.requests += 1
                st.in_flight += 1
                st.max_concurrency = max(st.max_concurrency, st.in_flight)
                violated = st.scope.concurrency is not None and st.in_flight > st.scope.concurrency
                for count, seconds, dq in st.windows:
                    record_arrival(dq, t, seconds)
                    if arrivals_within(dq, t, seconds) > count:
                        violated = True
                if not st.windows:
                    st.stat_deque.append(t)
                    while st.stat_deque and st.stat_deque[0] <= t - st.stat_window - 1.0:
                        st.stat_deque.popleft()
                    dq_stat = st.stat_deque
                else:
                    dq_stat = min(st.windows, key=lambda w: w[1])[2]
                st.max_in_window = max(st.max_in_window, _count_in(dq_stat, t - st.stat_window, t))
                counts[name] = violated
            ends = [self._boxes[n] for n in names + [IP_SCOPE] if self._boxes.get(n, 0.0) > t]
            if ends:
                ticket.throttled = True
                ticket.retry_after = max(1, math.ceil(max(ends) - t))
                return ticket
            forced = [n for n in names if n in self._forced]
            boxed: list[tuple[str, float]] = [(n, self._forced.pop(n)) for n in forced]
            pen = self.limits.penalty_seconds
            boxed += [(n, pen) for n, v in counts.items() if v and n not in forced]
            if boxed:
                ticket.throttled = True
                longest = 0.0
                for n, secs in boxed:
                    target = IP_SCOPE if self.penalty_scope == "ip" else n
                    self._boxes[target] = max(self._boxes.get(target, 0.0), t + secs)
                    self.penalties.append({"scope": target, "violated": n, "started": t, "ends": t + secs})
                    longest = max(longest, secs)
                ticket.retry_after = max(1, math.ceil(longest))
            return ticket

    def done(self, ticket: Ticket, status: int, t: float) -> None:
        """The response was sent (or the connection closed): release concurrency, count the status."""
        with self._lock:
            throttled = status == 429
            for name in ticket.scopes:
                st = self._scopes[name]
                st.in_flight -= 1
                st.busy_seconds += max(0.0, t - ticket.arrival)
                if throttled:
                    st.throttled += 1
            if throttled:
                self.total_throttled += 1
            ep = self.endpoints.get(ticket.key)
            if ep is None:
                ep = self.endpoints[ticket.key] = {"requests": 0, "throttled": 0, "statuses": {}}
            ep["requests"] += 1
            ep["throttled"] += int(throttled)
            code = str(status)
            ep["statuses"][code] = ep["statuses"].get(code, 0) + 1
            self.log.append([ticket.arrival, ticket.method, ticket.key, status])

    def stats(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        with self._lock:
            return {
                "total_requests": self.total_requests,
                "total_throttled": self.total_throttled,
                "endpoints": {k: {"requests": v["requests"], "throttled": v["throttled"],
                                  "statuses": dict(v["statuses"])} for k, v in self.endpoints.items()},
                "scopes": {n: {"requests": s.requests, "throttled": s.throttled, "max_in_window": s.max_in_window,
                               "max_concurrency": s.max_concurrency, "in_flight": s.in_flight,
                               "busy_seconds": round(s.busy_seconds, 4)}
                           for n, s in self._scopes.items() if s.requests},
                "penalties": [dict(p) for p in self.penalties],
                "log": [list(x) for x in self.log],
            }
