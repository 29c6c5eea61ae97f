"""What a session needs before a request, and what to do when IBKR says it is missing.

Before a request: the read-only session (every request), the brokerage session (``/iserver`` paths
only, so runs that read /portfolio, /pa and /trsrv never touch the user's brokerage session), and
the call-order listings (``/portfolio/{id}/...`` needs a listing naming the account in this session;
snapshot and orders need ``/iserver/accounts``). After a refusal: a 401 is checked with ``/tickle``
(a live session means the account was not listed yet, so list and retry once; a dead one means a
person must log in at the gateway); ``no bridge`` re-opens the brokerage session once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ibkr_pipelines.client.account_listing import (
    ACCOUNTS_PATH,
    LISTING_PATHS,
    SUBACCOUNTS_CAP,
    SUBACCOUNTS_PATH,
    AccountListings,
    account_records,
    subaccount_pages,
)
from ibkr_pipelines.client.auth import Authenticator
from ibkr_pipelines.client.calls import ListingCalls
from ibkr_pipelines.client.endpoints import Prime, account_in, prime_for

log = logging.getLogger(__name__)

ISERVER_ACCOUNTS_PATH = "/iserver/accounts"
# /iserver paths that manage the brokerage session themselves (no brokerage session needed to call them).
_BROKERAGE_MANAGEMENT = ("/iserver/auth/", "/iserver/reauthenticate")

__all__ = ["ISERVER_ACCOUNTS_PATH", "SessionKeeper", "account_in", "needs_brokerage"]


def needs_brokerage(path: str) -> bool:
    """Whether ``path`` needs the brokerage session (everything under /iserver but its session management)."""
    return path.startswith("/iserver/") and not path.startswith(_BROKERAGE_MANAGEMENT)


class SessionKeeper:
    """The state of one client's IBKR session tiers and listings, and the steps that restore them."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self.listings = AccountListings()
        self._lock = threading.RLock()
        self._session_up = False
        self._brokerage_up = False
        self._iserver_listed = False

    # -- before a request ---------------------------------------------------------------------

    def prepare(self, client: ListingCalls, path: str, method: str = "GET") -> None:
        """Open what ``path`` needs: the read-only session, the brokerage session if /iserver, the listings."""
        self.ensure_session(client)
        if needs_brokerage(path):
            self.ensure_brokerage(client)
        self.prime(client, path, method=method)

    def ensure_session(self, client: ListingCalls) -> None:
        """The read-only session, opened once per session and again before its credentials expire (OAuth)."""
        if self._session_up and self.auth.session_fresh():
            return
        with self._lock:
            if not (self._session_up and self.auth.session_fresh()):
                self.auth.open_session(client)
                self._session_up = True

    def ensure_brokerage(self, client: ListingCalls) -> None:
        """The brokerage session, opened the first time an /iserver request needs it."""
        if self._brokerage_up:
            return
        with self._lock:
            if not self._brokerage_up:
                self.auth.open_brokerage(client)
                self._brokerage_up = True
                self._iserver_listed = False

    def prime(self, client: ListingCalls, path: str, *, force: bool = False, method: str = "GET") -> None:
        """Make the listing call IBKR wants before ``path`` in this session (the endpoint table says which)."""
        needed = prime_for(path, method)
        account = account_in(path) if needed is Prime.ACCOUNT else None
        if account is not None:
            self._list_account(client, account, force=force)
        elif needed is Prime.PORTFOLIO_ACCOUNTS and (force or not self.listings.called(ACCOUNTS_PATH)):
            client.send_listing(ACCOUNTS_PATH)
        elif needed is Prime.ISERVER_ACCOUNTS and (force or not self._iserver_listed):
            with self._lock:
                if force or not self._iserver_listed:
                    client.send_listing(ISERVER_ACCOUNTS_PATH)

    def _list_account(self, client: ListingCalls, account: str, *, force: bool) -> None:
        """List accounts until one listing names ``account`` (accounts, then sub-accounts, then their pages)."""
        if self.listings.lists(account) and not force:
            return
        with self._lock:
            if force:
                self.listings.forget()
            if self.listings.lists(account):
                return
            if not self.listings.called(ACCOUNTS_PATH):
                client.send_listing(ACCOUNTS_PATH)
            if self.listings.lists(account) or self.listings.called(SUBACCOUNTS_PATH):
                return
            listed = account_records(client.send_listing(SUBACCOUNTS_PATH))
            if self.listings.lists(account) or len(listed) < SUBACCOUNTS_CAP:
                return
            for _page in subaccount_pages(lambda p, params: client.send_listing(p, params)):
                if self.listings.lists(account):
                    return

    # -- answers and refusals -----------------------------------------------------------------

    def after_call_order_refusal(self, client: ListingCalls, path: str, method: str = "GET") -> None:
        """IBKR said "Please query /accounts first": make the listing of the path's family again."""
        if path.startswith("/iserver/"):
            with self._lock:
                client.send_listing(ISERVER_ACCOUNTS_PATH)
        else:
            self.prime(client, path, force=True, method=method)

    def note_answer(self, method: str, path: str, body: Any) -> None:
        """Remember listing answers (which accounts this session has listed)."""
        if method == "GET" and path in LISTING_PATHS:
            self.listings.record(path, body)
        elif method == "GET" and path == ISERVER_ACCOUNTS_PATH:
            self._iserver_listed = True

    def after_unauthorized(self, client: ListingCalls, path: str) -> None:
        """A 401: check the session with the strategy (a dead login raises), then list again for ``path``."""
        with self._lock:
            log.warning("IBKR answered 401 on %s; checking the session", path.split("?")[0])
            client.stats.note("session_recoveries")
            self._session_up = False
            self.auth.open_session(client)
            self._session_up = True
            self.listings.forget()  # the session may be new: its listings must be made again
            if needs_brokerage(path):
                self._brokerage_up = False
                self.ensure_brokerage(client)
        self.prime(client, path, force=True)

    def after_no_bridge(self, client: ListingCalls, path: str) -> None:
        """``no bridge``: the brokerage session is gone (idle, nightly reset); open it again."""
        with self._lock:
            log.warning("IBKR brokerage session is missing on %s; re-opening it", path.split("?")[0])
            client.stats.note("session_recoveries")
            self._brokerage_up = False
            self.ensure_brokerage(client)
