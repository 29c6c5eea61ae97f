"""The request pacer: keeps every scope under IBKR's limits, smoothly, across threads and processes.

Each request reserves the earliest start time that satisfies all of its scopes (see ``schedule``),
then sleeps until it and checks no penalty box began meanwhile:
- rate windows ("N per P s"): the start is at least ``P + safety`` after the N-th previous grant
  in that scope, so no window of P seconds ever holds more than N requests even with some jitter;
- smoothing: the start is at least ``P / N`` after the previous grant, so there is no burst at
  start-up or after a pause;
- penalty box: nothing starts in a scope before its penalty ends (a 429 anywhere sets it for all);
- concurrency caps ("N in flight"): a lease is held from before sending until the answer is read.
Reservations are written to the shared store before sleeping, so concurrent callers queue behind them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ibkr_pipelines.client.limits import GLOBAL, Limits, Scope
from ibkr_pipelines.client.pacing_store import PacingState, PacingStore
from ibkr_pipelines.processes import pid_alive
from ibkr_pipelines.client.schedule import earliest_start, forget_before, place

log = logging.getLogger(__name__)

_LEASE_POLL_SECONDS = 0.005
_LONG_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Penalty:
    """A penalty box entry: which scopes stop, until when (store clock), and why."""

    scopes: tuple[str, ...]
    until: float
    seconds: float


class Slot:
    """A granted request slot: how long the caller waited, and the leases to give back."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        self.hold_seconds = 0.0

    def hold_leases_after_exit(self, seconds: float) -> None:
        """Keep concurrency leases a while after exit (a timed-out request may still run at IBKR)."""
        self.hold_seconds = max(self.hold_seconds, seconds)


class Pacer:
    """Grants request slots under ``Limits`` using a shared ``PacingStore``."""

    def __init__(self, limits: Limits, store: PacingStore) -> None:
        self.limits = limits
        self.store = store
        self._released = threading.Condition()
        self._announced: set[tuple[str, int]] = set()

    @contextmanager
    def slot(self, scopes: list[Scope]) -> Iterator[Slot]:
        """Wait until a request in these scopes may start; hold concurrency leases while inside."""
        leases: list[tuple[str, str]] = []
        waited = 0.0
        slot = Slot(0.0)
        try:
            for scope in scopes:
                if scope.concurrency:
                    token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
                    waited += self._lease(scope, token)
                    leases.append((scope.name, token))
            waited += self._reserve(scopes)
            slot.waited = waited
            yield slot
        finally:
            if leases:
                if slot.hold_seconds > 0:
                    timer = threading.Timer(slot.hold_seconds, self._release, args=(leases,))
                    timer.daemon = True
                    timer.start()
                else:
                    self._release(leases)

    def penalize(self, scope: str, seconds: float, *, reason: str = "") -> Penalty:
        """Put ``scope`` in the penalty box for every sharer of the store; escalate to global on a second box."""

        def apply(state: PacingState, now: float) -> Penalty:
            until = now + seconds
            names = [scope]
            boxed_elsewhere = [n for n, s in state.scopes.items() if n != scope and s.penalty_until > now]
            if boxed_elsewhere and GLOBAL not in names:
                names.append(GLOBAL)  # two scopes boxed at once: IBKR is boxing the whole IP
            for name in names:
                st = state.scope(name)
                st.penalty_until = max(st.penalty_until, until)
            state.penalties.append({"scopes": names, "until": until, "seconds": seconds, "reason": reason})
            return Penalty(tuple(names), until, seconds)

        return self.store.transact(apply)

    def _reserve(self, scopes: list[Scope]) -> float:
        """Reserve the earliest start every scope allows, sleep until it, and confirm no box began meanwhile."""
        waited = 0.0
        while True:
            start, now, penalty_scope = self.store.transact(lambda state, now: self._book(state, now, scopes))
            wait = start - now
            self._announce_penalty(penalty_scope, wait, start)
            if wait > 0:
                self._sleep_until(start)
                waited += wait
            if self.store.transact(lambda state, now: self._confirm(state, now, scopes, start)):
                return waited

    def _book(self, state: PacingState, now: float, scopes: list[Scope]) -> tuple[float, float, str]:
        safety = self.limits.safety_seconds
        not_before, penalty_scope = now, ""
        scoped = []
        for scope in scopes:
            st = state.scope(scope.name)
            if st.penalty_until > not_before:
                not_before, penalty_scope = st.penalty_until, scope.name
            if scope.windows:
                forget_before(st.grants, now - max(w.seconds for w in scope.windows) - safety)
                scoped.append((st.grants, scope.windows))
        start = earliest_start(not_before, scoped, safety)
        for grants, _windows in scoped:
            place(grants, start)
        return start, now, penalty_scope

    @staticmethod
    def _confirm(state: PacingState, now: float, scopes: list[Scope], start: float) -> bool:
        """False (and the reservation withdrawn) when one of the scopes was boxed while we slept."""
        if all(state.scope(s.name).penalty_until <= now for s in scopes):
            return True
        for scope in scopes:
            grants = state.scope(scope.name).grants
            if scope.windows and start in grants:
                grants.remove(start)
        return False

    def _announce_penalty(self, scope: str, wait: float, start: float) -> None:
        if scope and wait > _LONG_WAIT_SECONDS and (scope, int(start)) not in self._announced:
            self._announced.add((scope, int(start)))
            log.warning("IBKR pacing: scope %r is in the penalty box; waiting %.0f s before sending", scope, wait)

    def _sleep_until(self, start: float) -> None:
        while True:
            remaining = start - self.store.now()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 1.0))

    def _lease(self, scope: Scope, token: str) -> float:
        pid = os.getpid()
        cap = scope.concurrency or 1

        def try_take(state: PacingState, now: float) -> float:
            st = state.scope(scope.name)
            for held, (owner, _started) in list(st.leases.items()):
                if not pid_alive(int(owner)):
                    del st.leases[held]
            if st.penalty_until > now:
                return st.penalty_until - now
            if len(st.leases) < cap:
                st.leases[token] = [pid, now]
                return 0.0
            return -1.0

        began = time.monotonic()
        while True:
            outcome = self.store.transact(try_take)
            if outcome == 0.0:
                return time.monotonic() - began
            with self._released:
                self._released.wait(timeout=outcome if outcome > 0 else _LEASE_POLL_SECONDS)

    def _release(self, leases: list[tuple[str, str]]) -> None:
        def drop(state: PacingState, _now: float) -> None:
            for name, token in leases:
                state.scope(name).leases.pop(token, None)

        self.store.transact(drop)
        with self._released:
            self._released.notify_all()
