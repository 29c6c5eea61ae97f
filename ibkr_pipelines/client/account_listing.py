"""The account listings IBKR wants called before /portfolio/{accountId}/..., and reading them.

IBKR: "/portfolio/accounts ... must be called prior to calling other /portfolio endpoints for those
accounts", and for Financial Advisor and IBroker structures "/portfolio/subaccounts ... must be called
prior to calling other /portfolio endpoints for those sub-accounts. If you have more than 100
sub-accounts use /portfolio/subaccounts2" (pages of 20; cquillen/ibkr-conduit docs/ibkr-web-api-spec.md).
A session remembers which accounts it listed; a new session, and every other process, lists again.

``/portfolio/subaccounts2`` comes in two shapes: the documented wrapper ``{"metadata": {"total": ...},
"subaccounts": [...]}`` and a bare array (recorded from a non-FA account), which may not even honour
``page``. Paging ends on a short page, on reaching ``total``, or on a page that lists no account not
seen before; a hard bound turns a server that never stops into one clear error.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, Mapping

from ibkr_pipelines.errors import IbkrError

ACCOUNTS_PATH = "/portfolio/accounts"
SUBACCOUNTS_PATH = "/portfolio/subaccounts"
SUBACCOUNTS_PAGED_PATH = "/portfolio/subaccounts2"
LISTING_PATHS = (ACCOUNTS_PATH, SUBACCOUNTS_PATH, SUBACCOUNTS_PAGED_PATH)
SUBACCOUNTS_CAP = 100  # /portfolio/subaccounts lists at most this many
SUBACCOUNTS_PAGE_SIZE = 20
MAX_SUBACCOUNT_PAGES = 500  # 10,000 sub-accounts: past this, the server is not paging


def account_id_of(record: Mapping[str, Any]) -> str | None:
    """The id of an account object (``id``, else ``accountId``), or None."""
    for key in ("id", "accountId"):
        value = record.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def account_records(body: Any) -> list[Mapping[str, Any]]:
    """The account objects in a listing answer: a bare array or the ``subaccounts`` wrapper."""
    if isinstance(body, Mapping):
        body = body.get("subaccounts", body.get("accounts"))
    return [r for r in body if isinstance(r, Mapping)] if isinstance(body, list) else []


def _total(body: Any) -> int | None:
    metadata = body.get("metadata") if isinstance(body, Mapping) else None
    total = metadata.get("total") if isinstance(metadata, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def subaccount_pages(get: Callable[[str, Mapping[str, Any]], Any]) -> Iterator[list[Mapping[str, Any]]]:
    """Yield the account objects of each ``/portfolio/subaccounts2`` page until the listing ends."""
    seen: set[str] = set()
    for page in range(MAX_SUBACCOUNT_PAGES):
        body = get(SUBACCOUNTS_PAGED_PATH, {"page": page})
        records = account_records(body)
        new = [r for r in records if account_id_of(r) not in seen]
        seen.update(i for i in (account_id_of(r) for r in records) if i is not None)
        yield new
        total = _total(body)
        if len(records) < SUBACCOUNTS_PAGE_SIZE or not new or (total is not None and len(seen) >= total):
            return
    raise IbkrError(
        f"{SUBACCOUNTS_PAGED_PATH} kept returning new accounts past {MAX_SUBACCOUNT_PAGES} pages; stopped",
        endpoint=f"GET {SUBACCOUNTS_PAGED_PATH}",
    )


def all_subaccounts(get: Callable[[str, Mapping[str, Any] | None], Any]) -> list[Mapping[str, Any]]:
    """Every sub-account of the session's master: ``/subaccounts``, then the pages of ``/subaccounts2`` past 100."""
    first = account_records(get(SUBACCOUNTS_PATH, None))
    if len(first) < SUBACCOUNTS_CAP:
        return first
    found = {account_id_of(r): r for r in first}
    for page in subaccount_pages(get):
        for record in page:
            found.setdefault(account_id_of(record), record)
    return list(found.values())


class AccountListings:
    """What one session has listed: which listing calls it made and which accounts they named."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._called: set[str] = set()
        self._accounts: set[str] = set()

    def record(self, path: str, body: Any) -> None:
        """Note a successful listing answer (any of ``LISTING_PATHS``)."""
        with self._lock:
            self._called.add(path)
            self._accounts.update(i for i in (account_id_of(r) for r in account_records(body)) if i)

    def called(self, path: str) -> bool:
        """Whether this session already made the listing call ``path``."""
        with self._lock:
            return path in self._called

    def lists(self, account_id: str) -> bool:
        """Whether a listing of this session named ``account_id``."""
        with self._lock:
            return account_id in self._accounts

    def forget(self) -> None:
        """A new session: nothing is listed any more."""
        with self._lock:
            self._called.clear()
            self._accounts.clear()
