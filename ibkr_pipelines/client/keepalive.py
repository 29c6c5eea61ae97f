"""Keeps a long run's IBKR session alive with ``/tickle`` at most once a minute (by default)."""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Tickler:
    """A daemon thread calling ``tickle`` every ``interval`` seconds until stopped."""

    def __init__(self, tickle: Callable[[], object], interval: float) -> None:
        self._tickle = tickle
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.count = 0

    def start(self) -> None:
        """Start ticking (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ibkr-tickle", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait briefly for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._tickle()
                self.count += 1
            except Exception as exc:  # a failed tickle must not kill the run; the next request recovers
                log.warning("IBKR keep-alive tickle failed: %s", type(exc).__name__)
