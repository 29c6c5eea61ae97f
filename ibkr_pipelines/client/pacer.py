"""The request pacer: keeps every scope under IBKR's limits, smoothly, across threads and processes.

Each request reserves the earliest start time that satisfies all of its scopes (see ``schedule``),
sleeps until it, then passes a gate right before the socket, and is re-stamped once its bytes are
written (``Slot.mark_sent``):
- rate windows ("N per P s"): a request goes out only when fewer than N requests of its scope went
  out in the last ``P + margin`` seconds, counted on the times they really went out: a thread that
  woke late on a busy machine is counted when it sent, not when it was booked, and a request is
  counted from the moment its write to the socket returned, not from its gate pass (the two can be
  tens of milliseconds apart when the client's threads contend for the GIL: the store's file write,
  urllib3, a new connection). Counting it at the gate would let the window slide past a request
  that had not even left yet, and the margin, which only measures round trips, cannot see that;
- margin: the configured floor plus the measured spread of round trips (``JitterMeter``), so the
  windows still hold at IBKR when the network or the machine adds jitter to arrivals;
- smoothing: bookings are at least ``P / N`` apart, so there is no burst at start-up or after a pause;
- penalty box: nothing goes out in a scope before its penalty ends (a 429 anywhere sets it for all),
  checked again at the gate, right before the request is written to the socket;
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

from ibkr_pipelines.client.jitter import MAX_MARGIN_SECONDS, JitterMeter
from ibkr_pipelines.client.limits import GLOBAL, Limits, Scope
from ibkr_pipelines.client.pacing_store import PacingState, PacingStore
from ibkr_pipelines.client.schedule import earliest_start, forget_before, place
from ibkr_pipelines.processes import pid_alive

log = logging.getLogger(__name__)

_LEASE_POLL_SECONDS = 0.005
_LONG_WAIT_SECONDS = 2.0
# A wait this long on a rate window this long is worth a line: one earlier use holds the request back
# (e.g. /sso/validate's 1 per minute right after `doctor`, or a /pa endpoint's 1 per 15 minutes), and the
# operator sees why nothing moves. Shorter windows (the trades endpoint's 1 per 5 s) wait that long only
# behind the run's own queued requests, every night: no line for those.
_LONG_RATE_WAIT_SECONDS = 20.0
# Grants are kept this long past their longest window, so any margin the meter can ask for still sees them.
MAX_FORGET_MARGIN = MAX_MARGIN_SECONDS
# A request written to the socket this long after it passed the gate passes it again (busy machine).
_REGATE_AFTER_SECONDS = 0.001
# After a new connection is opened, a request whose gate pass is older than this passes it again. Its
# window time is moved to its real write anyway (``Slot.mark_sent``); this keeps a slow connect (DNS,
# a lost SYN, TLS) from holding a gate pass so long that the windows forget it before it is sent.
STALE_GATE_SECONDS = 0.1

_current = threading.local()


@dataclass(frozen=True)
class Penalty:
    """A penalty box entry: which scopes stop, until when (store clock), and why."""

    scopes: tuple[str, ...]
    until: float
    seconds: float


class Slot:
    """A granted request slot: how long the caller waited, when it passed the gate, the leases to give back."""

    def __init__(self, pacer: "Pacer", scopes: list[Scope], booked: float, waited: float) -> None:
        self._pacer = pacer
        self._scopes = scopes
        self.sent_at = booked  # the store-clock time recorded for this request in its windows
        self.gated_at = -1.0  # monotonic time of the last gate pass
        self.marked = False  # whether sent_at is the end of the write that followed the last gate pass
        self.waited = waited
        self.hold_seconds = 0.0

    def pass_gate(self, max_age: float = _REGATE_AFTER_SECONDS) -> None:
        """Wait until this request may go out now (windows on real send times, no penalty box); record it.

        Nothing is done when the last pass is at most ``max_age`` seconds old.
        """
        if self.gated_at >= 0 and time.monotonic() - self.gated_at <= max_age:
            return
        waited, self.sent_at = self._pacer.gate(self._scopes, self.sent_at)
        self.waited += waited
        self.gated_at = time.monotonic()
        self.marked = False

    def mark_sent(self) -> None:
        """The request's bytes are written: from now on its windows count it at this moment (once per gate pass)."""
        if self.gated_at < 0 or self.marked:
            return
        self.sent_at = self._pacer.mark_sent(self._scopes, self.sent_at)
        self.marked = True

    def hold_leases_after_exit(self, seconds: float) -> None:
        """Keep concurrency leases a while after exit (a timed-out request may still run at IBKR)."""
        self.hold_seconds = max(self.hold_seconds, seconds)


def current_slot() -> Slot | None:
    """The slot the calling thread holds (the HTTP adapter passes its gate right before sending)."""
    return getattr(_current, "slot", None)


class Pacer:
    """Grants request slots under ``Limits`` using a shared ``PacingStore``."""

    def __init__(self, limits: Limits, store: PacingStore, meter: JitterMeter | None = None) -> None:
        self.limits = limits
        self.store = store
        self.meter = meter or JitterMeter(limits.safety_seconds)
        self._released = threading.Condition()
        self._announced: set[tuple[str, int]] = set()

    def unreachable(self, service: str, group: str, within: float) -> str | None:
        """The line of a "nothing answers" verdict on ``service`` given in ``group`` in the last ``within`` s.

        A group is the requests that should share a verdict (one run's step processes); another run
        tries again, so a user who restarted the gateway is not told it is down.
        """

        def look(state: PacingState, now: float) -> str | None:
            verdict = state.unreachable.get(service)
            fresh = verdict is not None and verdict[2] == group and now - float(verdict[0]) < within
            return str(verdict[1]) if fresh and verdict is not None else None

        return self.store.peek(look)

    def note_unreachable(self, service: str, group: str, line: str) -> None:
        """Tell every sharer in ``group`` that ``service`` answers nothing (``line`` says so)."""

        def note(state: PacingState, now: float) -> None:
            state.unreachable[service] = [now, line, group]

        self.store.transact(note)

    def clear_unreachable(self, service: str) -> None:
        """``service`` answered: forget any verdict on it (a read first, so a healthy run writes nothing)."""
        if self.store.peek(lambda state, _now: service in state.unreachable):
            self.store.transact(lambda state, _now: state.unreachable.pop(service, None))

    @contextmanager
    def slot(self, scopes: list[Scope], *, gate: bool = True) -> Iterator[Slot]:
        """Wait until a request in these scopes may go out; hold concurrency leases while inside.

        ``gate=False`` leaves the gate to the caller (the HTTP adapter passes it right before the socket),
        so a request is not gated twice.
        """
        leases: list[tuple[str, str]] = []
        waited = 0.0
        slot: Slot | None = None
        try:
            for scope in scopes:
                if scope.concurrency:
                    token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
                    waited += self._lease(scope, token)
                    leases.append((scope.name, token))
            booked, reserve_wait = self._reserve(scopes)
            slot = Slot(self, scopes, booked, waited + reserve_wait)
            if gate:
                slot.pass_gate()
            _current.slot = slot
            yield slot
        finally:
            _current.slot = None
            if leases:
                if slot is not None and slot.hold_seconds > 0:
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

    def gate(self, scopes: list[Scope], recorded: float) -> tuple[float, float]:
        """Wait until the request may go out now; returns (seconds waited, the send time recorded for it).

        ``recorded`` is the time the request holds in its windows so far (its booking, or an earlier
        gate pass); it is replaced by the time it really goes out.
        """
        began = time.monotonic()
        margin = self.meter.margin()
        while True:
            wait, recorded, boxed, until = self.store.transact(
                lambda state, now: self._open(state, now, scopes, recorded, margin)
            )
            if wait <= 0:
                return time.monotonic() - began, recorded
            self._announce_penalty(boxed, wait, until)
            time.sleep(min(wait, 1.0))

    def mark_sent(self, scopes: list[Scope], recorded: float) -> float:
        """Move a request's window time from ``recorded`` (its gate pass) to now, after its write; returns now.

        The gate records the moment it let the request go, but the bytes leave later: after the store's
        own write, urllib3's bookkeeping, maybe a new connection, each a chance for other threads to
        take the GIL (or for the OS to run something else). That delay is the client's, so the round
        trips behind the margin do not contain it. Counted at the gate, a request that left 40 ms late
        drops out of the window 40 ms before its arrival does, and the request that fills the window
        next can reach IBKR less than a window after it (11 arrivals in one second). Counted from the
        end of its write, the only spread left between send and arrival is the network's and IBKR's,
        which is what the margin measures. Later is always safe here: the time only ever moves forward.
        """

        def restamp(state: PacingState, now: float) -> float:
            at = max(now, recorded)
            _move_grant(state, scopes, recorded, at)
            return at

        return self.store.transact(restamp)

    def _open(
        self, state: PacingState, now: float, scopes: list[Scope], recorded: float, margin: float
    ) -> tuple[float, float, str, float]:
        """In one transaction: ``now`` recorded when the request may go (wait 0), else how long to wait and why.

        Returns (wait, recorded send time, boxed scope or "", end of that box).
        """
        for scope in scopes:
            until = state.scope(scope.name).penalty_until
            if until > now:
                return until - now, recorded, scope.name, until
        wait = 0.0
        for scope in scopes:
            grants = state.scope(scope.name).grants
            for window in scope.windows:
                span = window.seconds + margin
                recent = [g for g in grants if now - span < g <= now and g != recorded]
                if len(recent) >= window.count:
                    wait = max(wait, recent[len(recent) - window.count] + span - now)
        if wait > 0:
            return wait, recorded, "", 0.0
        _move_grant(state, scopes, recorded, now)
        return 0.0, now, "", 0.0

    def _reserve(self, scopes: list[Scope]) -> tuple[float, float]:
        """Reserve the earliest start every scope allows and sleep until it; returns (booked start, seconds waited)."""
        start, now, penalty_scope, penalty_until, binding = self.store.transact(
            lambda state, now: self._book(state, now, scopes))
        wait = start - now
        self._announce_penalty(penalty_scope, wait, penalty_until)
        self._announce_rate_wait(binding, wait, start)
        if wait > 0:
            self._sleep_until(start)
        return start, max(wait, 0.0)

    def _book(self, state: PacingState, now: float, scopes: list[Scope]) -> tuple[float, float, str, float, Scope | None]:
        safety = self.meter.margin()
        not_before, penalty_scope = now, ""
        scoped = []
        long_windows: list[tuple[Scope, list[float]]] = []
        for scope in scopes:
            st = state.scope(scope.name)
            if st.penalty_until > not_before:
                not_before, penalty_scope = st.penalty_until, scope.name
            if scope.windows:
                forget_before(st.grants, now - max(w.seconds for w in scope.windows) - MAX_FORGET_MARGIN)
                scoped.append((st.grants, scope.windows))
                if max(w.seconds for w in scope.windows) >= _LONG_RATE_WAIT_SECONDS:
                    long_windows.append((scope, st.grants))
        start = earliest_start(not_before, scoped, safety)
        binding = None
        if long_windows and start - not_before > _LONG_RATE_WAIT_SECONDS:  # rare: the long window holding it back
            held = [(earliest_start(not_before, [(grants, scope.windows)], safety), scope) for scope, grants in long_windows]
            latest, scope = max(held, key=lambda pair: pair[0])
            binding = scope if latest - not_before > _LONG_RATE_WAIT_SECONDS else None
        for grants, _windows in scoped:
            place(grants, start)
        return start, now, penalty_scope, not_before, binding

    def _announce_penalty(self, scope: str, wait: float, until: float) -> None:
        """One log line per penalty box (scope and end), however many threads wait in it."""
        if scope and wait > _LONG_WAIT_SECONDS and (scope, round(until)) not in self._announced:
            self._announced.add((scope, round(until)))
            log.warning("IBKR pacing: scope %r is in the penalty box; waiting %.0f s before sending", scope, wait)

    def _announce_rate_wait(self, scope: Scope | None, wait: float, start: float) -> None:
        """One log line for a long wait on a rate window, naming the scope and its limit."""
        if scope is None or wait <= _LONG_RATE_WAIT_SECONDS or (scope.name, round(start)) in self._announced:
            return
        self._announced.add((scope.name, round(start)))
        limit = ", ".join(f"{w.count} per {w.seconds:g} s" for w in scope.windows)
        log.warning("IBKR pacing: waiting %.0f s for scope %r (IBKR allows %s; it was used that recently, "
                    "here or by another process sharing the pacing state)", wait, scope.name, limit)

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


def _move_grant(state: PacingState, scopes: list[Scope], recorded: float, at: float) -> None:
    """Move one request's time in every windowed scope from ``recorded`` (if there) to ``at``."""
    for scope in scopes:
        if scope.windows:
            grants = state.scope(scope.name).grants
            if recorded in grants:
                grants.remove(recorded)
            place(grants, at)
