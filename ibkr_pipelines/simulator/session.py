"""The gateway session state machine: login held by the gateway, read-only session, brokerage tier.

States: no login (everything 401) -> login held -> read-only session alive (portfolio, trsrv, ...)
-> brokerage session after ``ssodh/init`` (``/iserver/*``). The session idles out after
``idle_timeout`` seconds without requests (wall clock, monotonic); ``ssodh/init`` re-creates it while
the gateway still holds the login. A nightly reset window makes ``/iserver/*`` answer 503 and then
drops the brokerage tier.
"""

from __future__ import annotations

import itertools
import threading
import time


class GatewaySession:
    """Thread-safe session flags plus the per-session call-order and cold-read memory."""

    def __init__(self, logged_in: bool, idle_timeout: float) -> None:
        self._lock = threading.RLock()
        self.idle_timeout = idle_timeout
        self.logged_in = logged_in
        self.alive = logged_in
        self.brokerage = False
        self.reset_until: float | None = None
        self.accounts_queried = False
        self.cold_done: set[str] = set()
        self.last_request = time.monotonic()
        self._ids = itertools.count(1)
        self.session_id = self._new_id()
        self.iserver_accounts_queried = False

    def _new_id(self) -> str:
        return f"{0x5e55_1000 + next(self._ids) * 7919:032x}"

    def _new_session(self) -> None:
        self.alive = True
        self.accounts_queried = False
        self.iserver_accounts_queried = False
        self.cold_done = set()
        self.session_id = self._new_id()

    # -- controls --
    def login(self) -> None:
        """The user logged in at the gateway page: a fresh read-only session, no brokerage tier yet."""
        with self._lock:
            self.logged_in = True
            self.brokerage = False
            self._new_session()
            self.last_request = time.monotonic()

    def logout(self) -> None:
        """The gateway drops the login: every request answers 401 until login()."""
        with self._lock:
            self.logged_in = False
            self.alive = False
            self.brokerage = False

    def expire(self) -> None:
        """As if the session idled out: 401 until ssodh/init re-creates it."""
        with self._lock:
            self.alive = False
            self.brokerage = False

    def start_reset_window(self, seconds: float, now: float | None = None) -> None:
        """Nightly /iserver reset: /iserver/* answers 503 for ``seconds``, then no brokerage session."""
        with self._lock:
            self.reset_until = (now or time.monotonic()) + seconds
            self.brokerage = False

    # -- per request --
    def touch(self, now: float) -> str:
        """Account for a request arriving at ``now``; returns 'nologin', 'expired' or 'ok'."""
        with self._lock:
            if self.reset_until is not None and now >= self.reset_until:
                self.reset_until = None
            if not self.logged_in:
                return "nologin"
            if self.alive and now - self.last_request > self.idle_timeout:
                self.alive = False
                self.brokerage = False
            if not self.alive:
                return "expired"
            self.last_request = now
            return "ok"

    def in_reset(self, now: float) -> bool:
        """True while the nightly /iserver reset window is open."""
        with self._lock:
            return self.reset_until is not None and now < self.reset_until

    def ssodh_init(self, now: float) -> bool:
        """Open the brokerage session (re-creating the read-only session if it expired)."""
        with self._lock:
            if not self.logged_in:
                return False
            if not self.alive:
                self._new_session()
            self.brokerage = True
            self.last_request = now
            return True

    def mark_accounts_queried(self) -> None:
        """/portfolio/accounts or /portfolio/subaccounts was called in this session."""
        with self._lock:
            self.accounts_queried = True

    def first_positions_read(self, account_id: str) -> bool:
        """True (once per account and session) for the cold, sparse first positions read."""
        with self._lock:
            if account_id in self.cold_done:
                return False
            self.cold_done.add(account_id)
            return True
