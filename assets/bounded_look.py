"""A sensor's look at IBKR in a daemon thread the tick waits on for a bounded time, never two at once.

Dagster times a sensor tick out after 60 s; the transport may wait longer than that (a 429 penalty, 5xx
retries, a login). A look runs in its own thread, opens and closes its own connection, and hands back
its outcome if it ends within the deadline; otherwise the tick skips saying so, the look finishes on
its own, and the next tick starts no second look while it still runs. The outcome of a look that
missed its tick is dropped: the cursor was not moved, so the next look does the work again.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class _Look(threading.Thread, Generic[T]):
    """One look's work in a daemon thread, its outcome or error kept for the tick."""

    def __init__(self, name: str, work: Callable[[], T]) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.outcome: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Do the work, keeping what it returned or raised."""
        try:
            self.outcome = self.work()
        except BaseException as exc:  # handed to the tick, which says it in one line
            self.error = exc


class BoundedLook(Generic[T]):
    """One sensor's looks: at most one at a time, each waited on for at most the given seconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._running: _Look[T] | None = None
        self._lock = threading.Lock()

    def within(self, work: Callable[[], T], seconds: float) -> T | str:
        """``work``'s outcome if it ends within ``seconds``, else a line saying why not (it goes on in its thread)."""
        with self._lock:
            if self._running is not None and self._running.is_alive():
                return f"the previous {self.name} look is still waiting on IBKR (throttled or slow); asking again next tick"
            thread = self._running = _Look(f"{self.name}-look", work)
        thread.start()
        thread.join(seconds)
        if thread.is_alive():
            return f"IBKR did not answer the {self.name} look within {seconds:g} s (throttled or slow); asking again next tick"
        if thread.error is not None:
            raise thread.error
        assert thread.outcome is not None
        return thread.outcome

    def wait(self, seconds: float) -> None:
        """Wait up to ``seconds`` for a look still running (tests: one slow tick must not spill into the next test)."""
        running = self._running
        if running is not None:
            running.join(seconds)
