"""Accounts: /portfolio/accounts, then the sub-accounts of an FA master, into the `accounts` table.

IBKR needs /portfolio/accounts (or /subaccounts) first in a session before any
/portfolio/{accountId}/... call, so the accounts fetch is also the session's call-order primer.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable, Mapping, Sequence

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.extract.common import (
    as_bool,
    as_date,
    as_list,
    as_str,
    col,
    extra_json,
    from_epoch_ms,
    map_record,
    rows_to_frame,
)

log = logging.getLogger(__name__)

TABLE = "accounts"
SUBACCOUNTS_CAP = 100  # /portfolio/subaccounts returns at most this many
SUBACCOUNTS2_PAGE_SIZE = 20  # /portfolio/subaccounts2 pages hold this many
MAX_SUBACCOUNT_PAGES = 10_000  # a guard against a server that never returns a short page

_COLUMNS = (
    col("account_title", "accountTitle"),
    col("display_name", "displayName"),
    col("account_alias", "accountAlias"),
    col("account_type", "type"),
    col("base_currency", "currency"),
    col("trading_type", "tradingType"),
    col("business_type", "businessType"),
    col("ib_entity", "ibEntity"),
    col("cust_type", "acctCustType"),
    col("clearing_status", "clearingStatus"),
    col("is_fa_client", "faclient", "faClient", convert=as_bool),
    col("brokerage_access", "brokerageAccess", convert=as_bool),
    col("account_status_at", "accountStatus", convert=from_epoch_ms),
)


def account_id_of(record: Mapping[str, Any]) -> str | None:
    """The account id of an account object (``id``, else ``accountId``), or null."""
    return as_str(record.get("id")) or as_str(record.get("accountId"))


def is_master_account(record: Mapping[str, Any]) -> bool:
    """True for an FA/IBroker master: ``parent.isMParent``, ``faclient``/``faClient``, or an F-prefixed id."""
    parent = record.get("parent")
    if isinstance(parent, Mapping) and as_bool(parent.get("isMParent")):
        return True
    if as_bool(record.get("faclient")) or as_bool(record.get("faClient")):
        return True
    account_id = account_id_of(record) or ""
    return account_id.startswith("F")


def _account_row(record: Mapping[str, Any], snapshot_date: dt.date) -> dict[str, Any]:
    row, extra = map_record(record, _COLUMNS, consumed=("id", "accountId"))
    # `accountId` only repeats `id`; keep it if it ever disagrees.
    account_id = account_id_of(record)
    if record.get("accountId") not in (None, account_id):
        extra["accountId"] = record.get("accountId")
    parent = record.get("parent")
    is_master = None
    parent_account_id = None
    if isinstance(parent, Mapping):
        is_master = as_bool(parent.get("isMParent"))
        parent_account_id = as_str(parent.get("accountId"))
        rest = {k: v for k, v in parent.items() if k not in ("isMParent", "accountId")}
        if rest:
            extra["parent"] = rest
    elif parent is not None:
        extra["parent"] = parent
    row.update(
        snapshot_date=snapshot_date,
        account_id=account_id,
        is_master=is_master,
        parent_account_id=parent_account_id,
        raw_extra=extra_json(extra),
    )
    return row


def parse_accounts(body: Any, *, snapshot_date: dt.date | str) -> pl.DataFrame:
    """Account objects (a bare array, or the subaccounts2 wrapper) -> `accounts` rows, one per object."""
    day = as_date(snapshot_date)
    records = as_list(body, "subaccounts", "accounts")
    rows = [_account_row(r, day) for r in records if isinstance(r, Mapping)]
    return rows_to_frame(TABLE, rows)


def _subaccount_records(client: ApiClient) -> list[Mapping[str, Any]]:
    """All sub-accounts of the session's master: /subaccounts, paging /subaccounts2 past its cap."""
    first = [r for r in as_list(client.get("/portfolio/subaccounts"), "subaccounts") if isinstance(r, Mapping)]
    if len(first) < SUBACCOUNTS_CAP:
        return first
    found = list(first)
    for page in range(MAX_SUBACCOUNT_PAGES):
        body = client.get("/portfolio/subaccounts2", {"page": page})
        records = [r for r in as_list(body, "subaccounts") if isinstance(r, Mapping)]
        found.extend(records)
        total = _metadata_total(body)
        if len(records) < SUBACCOUNTS2_PAGE_SIZE:
            break
        if total is not None and (page + 1) * SUBACCOUNTS2_PAGE_SIZE >= total:
            break
    else:
        log.warning("stopped paging /portfolio/subaccounts2 after %d pages", MAX_SUBACCOUNT_PAGES)
    return found


def _metadata_total(body: Any) -> int | None:
    if isinstance(body, Mapping) and isinstance(body.get("metadata"), Mapping):
        total = body["metadata"].get("total")
        if isinstance(total, int) and not isinstance(total, bool):
            return total
    return None


def _unique_by_id(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[str | None] = set()
    out: list[Mapping[str, Any]] = []
    for record in records:
        key = account_id_of(record)
        if key is not None and key in seen:
            continue
        seen.add(key)
        out.append(record)
    return out


def fetch_account_records(client: ApiClient, account_ids: Sequence[str] | None = None) -> list[Mapping[str, Any]]:
    """The account objects visible to the session (accounts + FA sub-accounts), unique by id, optionally filtered."""
    accounts = [r for r in as_list(client.get("/portfolio/accounts"), "accounts") if isinstance(r, Mapping)]
    records = list(accounts)
    if any(is_master_account(r) for r in accounts):
        records.extend(_subaccount_records(client))
    records = _unique_by_id(records)
    if account_ids:
        visible = [account_id_of(r) for r in records]
        unknown = [a for a in account_ids if a not in visible]
        if unknown:
            # A typo must stop the run: filtering to nothing would land empty snapshots over good ones.
            raise ConfigError(
                "IBKR_ACCOUNT_IDS",
                f"{', '.join(unknown)} not visible to this login; it sees {', '.join(str(v) for v in visible) or 'none'}",
            )
        wanted = set(account_ids)
        records = [r for r in records if account_id_of(r) in wanted]
    return records


def fetch_accounts(
    client: ApiClient,
    *,
    snapshot_date: dt.date | str,
    account_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Call /portfolio/accounts (and sub-account pages for a master) and return `accounts` rows."""
    return parse_accounts(fetch_account_records(client, account_ids), snapshot_date=snapshot_date)
