"""Per-endpoint counters of one client run: requests, retries, pacing waits, 429s, bytes, errors.

A client is shared by the steps of a run, and steps run side by side. ``RunStats.attributed()``
gives the calling context its own part: everything recorded while that context (or a thread started
with ``with_attribution``) is current counts in the part as well as in the whole.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ParamSpec, TypeVar

# Sends remembered for a timeline of the run's requests (a night's ingest sends a few thousand).
SEND_LOG_SIZE = 50_000

P = ParamSpec("P")
T = TypeVar("T")
# id(whole RunStats) -> the part recording for the current context (a Dagster step and its threads).
_PARTS: contextvars.ContextVar[dict[int, "RunStats"]] = contextvars.ContextVar("ibkr_stats_parts", default={})


def with_attribution(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn`` counting its traffic where the caller's does, so a worker thread's requests count for the caller's step.

    Only the attribution travels, not the whole context: Dagster keeps its own state in context
    variables, and a worker thread must not log through the step's (maybe single-threaded) event store.
    """
    parts = _PARTS.get()

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _PARTS.set(parts)
        try:
            return fn(*args, **kwargs)
        finally:
            _PARTS.reset(token)

    return run


@dataclass
class EndpointStats:
    """Counters for one endpoint key."""

    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    throttled: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass
class RunStats:
    """Thread-safe counters for every endpoint a client called, plus the penalties it met."""

    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    penalties: list[dict[str, Any]] = field(default_factory=list)
    session_recoveries: int = 0
    cold_read_retries: int = 0
    # (monotonic time, endpoint) of every request as it went to the socket: a timeline of the run.
    sends: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=SEND_LOG_SIZE))
    # (monotonic start, end) of every pacing wait, so waits count as wall time, not summed over threads.
    waits: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SEND_LOG_SIZE))
    # Called with each penalty as it is noticed (e.g. a Dagster step logging it while it happens).
    penalty_listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def attributed(self) -> Iterator["RunStats"]:
        """A part of these stats that records only what the current context (and threads it hands on) does."""
        part = RunStats()
        token = _PARTS.set({**_PARTS.get(), id(self): part})
        try:
            yield part
        finally:
            _PARTS.reset(token)

    def _targets(self) -> tuple["RunStats", ...]:
        part = _PARTS.get().get(id(self))
        return (self,) if part is None else (self, part)

    def note_send(self, endpoint: str, at: float) -> None:
        """Remember that a request went out (monotonic ``at``)."""
        for target in self._targets():
            target.sends.append((at, endpoint))

    def add(self, endpoint: str, **deltas: float) -> None:
        """Add to the counters of one endpoint (``requests=1``, ``wait_seconds=0.2`` ...)."""
        for target in self._targets():
            target._add(endpoint, deltas)

    def _add(self, endpoint: str, deltas: dict[str, float]) -> None:
        with self._lock:
            entry = self.endpoints.setdefault(endpoint, EndpointStats())
            for name, value in deltas.items():
                setattr(entry, name, getattr(entry, name) + value)
            waited = deltas.get("wait_seconds", 0.0)
            if waited > 0:
                now = time.monotonic()
                self.waits.append((now - waited, now))

    def wall_wait_seconds(self, since: float = 0.0) -> float:
        """Wall-clock seconds in which at least one request waited for pacing (after monotonic ``since``)."""
        with self._lock:
            spans = sorted((max(start, since), end) for start, end in self.waits if end > since)
        total, reach = 0.0, float("-inf")
        for start, end in spans:
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return round(total, 3)

    def note_penalty(self, endpoint: str, scopes: tuple[str, ...], seconds: float) -> None:
        """Remember a 429 penalty for the run summary and Dagster metadata."""
        penalty = {"endpoint": endpoint, "scopes": list(scopes), "seconds": round(seconds, 1), "noticed_at": time.monotonic()}
        for target in self._targets():
            with target._lock:
                target.penalties.append(penalty)
                listeners = list(target.penalty_listeners)
            for listener in listeners:
                listener({k: v for k, v in penalty.items() if k != "noticed_at"})

    def note(self, counter: str) -> None:
        """Count a run-level event (``session_recoveries`` or ``cold_read_retries``)."""
        for target in self._targets():
            with target._lock:
                setattr(target, counter, getattr(target, counter) + 1)

    def totals(self) -> EndpointStats:
        """Sum of all endpoints."""
        with self._lock:
            total = EndpointStats()
            for entry in self.endpoints.values():
                for name, value in asdict(entry).items():
                    setattr(total, name, getattr(total, name) + value)
            return total

    def as_dict(self) -> dict[str, Any]:
        """Plain data for logs, CLI tables and Dagster metadata."""
        totals = asdict(self.totals())
        with self._lock:
            return {
                "totals": {k: round(v, 3) if isinstance(v, float) else v for k, v in totals.items()},
                "endpoints": {
                    k: {n: round(v, 3) if isinstance(v, float) else v for n, v in asdict(e).items()}
                    for k, e in sorted(self.endpoints.items())
                },
                "penalties": [{k: v for k, v in p.items() if k != "noticed_at"} for p in self.penalties],
                "session_recoveries": self.session_recoveries,
                "cold_read_retries": self.cold_read_retries,
            }
