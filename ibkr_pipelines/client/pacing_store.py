"""Where pacing state lives, so every thread and process using one IBKR username shares it.

The state is small: per scope, the recent grant times, the end of any penalty box, and the leases
held on concurrency-limited scopes. A store only has to run a function on that state atomically.
``FilePacingStore`` does it for every process on one machine (an ``fcntl`` lock on a JSON file);
``MemoryPacingStore`` for one process. A multi-machine deployment implements ``PacingStore`` over a
shared service (see README: a Redis key guarded by a lock, with the server's clock as ``now``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class ScopeState:
    """Pacing state of one scope."""

    grants: list[float] = field(default_factory=list)
    penalty_until: float = 0.0
    leases: dict[str, list[float]] = field(default_factory=dict)  # token -> [pid, started]

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for storage."""
        return {"grants": self.grants, "penalty_until": self.penalty_until, "leases": self.leases}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "ScopeState":
        """Rebuild from the stored form, tolerating missing parts."""
        return cls(
            grants=[float(x) for x in raw.get("grants", [])],
            penalty_until=float(raw.get("penalty_until", 0.0)),
            leases={str(k): list(v) for k, v in raw.get("leases", {}).items()},
        )


@dataclass
class PacingState:
    """The whole shared state: scopes by name, and recent penalty events for observability."""

    scopes: dict[str, ScopeState] = field(default_factory=dict)
    penalties: list[dict[str, Any]] = field(default_factory=list)
    # per service: [when, line, group] of the last "nothing answers" verdict, so the sharers in the
    # same group (a run's step processes) say that line at once instead of each waiting it out
    unreachable: dict[str, list[Any]] = field(default_factory=dict)

    def scope(self, name: str) -> ScopeState:
        """State of a scope, created empty on first use."""
        return self.scopes.setdefault(name, ScopeState())

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for storage."""
        return {"scopes": {k: v.to_json() for k, v in self.scopes.items()}, "penalties": self.penalties[-50:],
                "unreachable": self.unreachable}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "PacingState":
        """Rebuild from the stored form."""
        return cls(
            scopes={k: ScopeState.from_json(v) for k, v in raw.get("scopes", {}).items()},
            penalties=list(raw.get("penalties", [])),
            unreachable={str(k): [float(v[0]), str(v[1]), str(v[2])] for k, v in raw.get("unreachable", {}).items()
                         if isinstance(v, list) and len(v) == 3},
        )


class PacingStore(Protocol):
    """Runs functions on the shared pacing state atomically, with the store's own clock."""

    def now(self) -> float:
        """Current time on the clock every sharer of this store uses (seconds)."""
        ...

    def transact(self, fn: Callable[[PacingState, float], T]) -> T:
        """Run ``fn(state, now)`` under an exclusive lock and persist the state it leaves."""
        ...

    def peek(self, fn: Callable[[PacingState, float], T]) -> T:
        """Run ``fn(state, now)`` on a consistent copy of the state, to read it (changes are not kept)."""
        ...


class MemoryPacingStore:
    """Pacing state shared by the threads of one process."""

    def __init__(self) -> None:
        self._state = PacingState()
        self._lock = threading.Lock()

    def now(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def transact(self, fn: Callable[[PacingState, float], T]) -> T:
        """Run ``fn`` under a thread lock."""
        with self._lock:
            return fn(self._state, self.now())

    def peek(self, fn: Callable[[PacingState, float], T]) -> T:
        """Run ``fn`` under the thread lock (it must only read)."""
        with self._lock:
            return fn(self._state, self.now())


class FilePacingStore:
    """Pacing state shared by every process on this machine through a JSON file guarded by a lock file.

    Uses ``time.monotonic()`` (CLOCK_MONOTONIC on Linux and macOS is one clock for the whole machine),
    so wall-clock jumps cannot open a window the limits forbid. The state is replaced by an atomic
    rename, so a process killed mid-write (``kill -9``) leaves the previous state, never half a file.
    POSIX only (``fcntl``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()  # flock does not exclude threads sharing one descriptor
        self._boot_id = _boot_id()

    def now(self) -> float:
        """Machine-wide monotonic seconds."""
        return time.monotonic()

    def transact(self, fn: Callable[[PacingState, float], T]) -> T:
        """Lock, load the state, run ``fn``, replace the state file atomically, unlock."""
        with self._thread_lock:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                state = self._load()
                result = fn(state, self.now())
                payload = json.dumps({"boot": self._boot_id, **state.to_json()}, separators=(",", ":")).encode()
                tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.write(out, payload)
                finally:
                    os.close(out)
                os.replace(tmp, self.path)
                return result
            finally:
                os.close(fd)  # closing releases the flock

    def peek(self, fn: Callable[[PacingState, float], T]) -> T:
        """Run ``fn`` on the state as last written, without the lock: the file is only ever replaced
        whole (atomic rename), so a lockless read sees one complete state."""
        return fn(self._load(), self.now())

    def _load(self) -> PacingState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return PacingState()
        if not raw:
            return PacingState()
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("pacing state %s was unreadable; starting it afresh", self.path)
            return PacingState()
        if data.get("boot") != self._boot_id:  # monotonic times from before a reboot mean nothing now
            return PacingState()
        return PacingState.from_json(data)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return f"boot-{int(time.time() - time.monotonic()) // 60}"
