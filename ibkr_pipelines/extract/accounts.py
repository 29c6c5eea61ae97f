"""Accounts: /portfolio/accounts, then the sub-accounts of an FA or IBroker master, into `accounts`.

IBKR needs /portfolio/accounts (or /subaccounts for FA and IBroker structures) first in a session
before any /portfolio/{accountId}/... call; the client's session keeper makes those listings itself,
so this module only reads them.

A master is recognised as IBKR describes it, not by ``faclient`` (which marks a managed client
account) nor by ``parent.isMParent`` (a multiplex parent, never seen set on a master): a live FA master
lists with ``businessType: "FA"`` and ``type: "FNF"`` ([FA-SAMPLE] in the team's research notes), and
master ids carry the family prefixes F / DF (FA, live / paper) and I / DI (IBroker; QuantConnect/Lean
issue #3398).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Iterable, Mapping, Sequence

import polars as pl

from ibkr_pipelines.client.account_listing import ACCOUNTS_PATH, account_id_of, account_records, all_subaccounts
from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.extract.common import (
    as_bool,
    as_date,
    as_str,
    col,
    extra_json,
    from_epoch_ms,
    map_record,
    rows_to_frame,
)

log = logging.getLogger(__name__)

TABLE = "accounts"
MASTER_BUSINESS_TYPES = frozenset({"FA"})
MASTER_TYPES = frozenset({"FNF"})
_MASTER_ID = re.compile(r"^D?[FI]\d+$")

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


def is_master_account(record: Mapping[str, Any]) -> bool:
    """True for an FA or IBroker master: ``businessType`` FA, ``type`` FNF, or an F/DF/I/DI account id."""
    if as_str(record.get("businessType")) in MASTER_BUSINESS_TYPES or as_str(record.get("type")) in MASTER_TYPES:
        return True
    return bool(_MASTER_ID.match(account_id_of(record) or ""))


def _account_row(record: Mapping[str, Any], snapshot_date: dt.date, master_id: str | None) -> dict[str, Any]:
    row, extra = map_record(record, _COLUMNS, consumed=("id", "accountId"))
    # `accountId` only repeats `id`; keep it if it ever disagrees.
    account_id = account_id_of(record)
    if record.get("accountId") not in (None, account_id):
        extra["accountId"] = record.get("accountId")
    is_master = is_master_account(record)
    parent = record.get("parent")
    parent_account_id = None
    if isinstance(parent, Mapping):
        parent_account_id = as_str(parent.get("accountId"))
        rest = {k: v for k, v in parent.items() if k != "accountId"}
        if rest:
            extra["parent"] = rest
    elif parent is not None:
        extra["parent"] = parent
    if parent_account_id is None and not is_master and master_id and as_bool(record.get("faclient", record.get("faClient"))):
        parent_account_id = master_id  # an FA client listed under this login's master
    row.update(
        snapshot_date=snapshot_date,
        account_id=account_id,
        is_master=is_master,
        parent_account_id=parent_account_id,
        raw_extra=extra_json(extra),
    )
    return row


def login_master(records: Iterable[Mapping[str, Any]]) -> str | None:
    """The id of the login's one master account among ``records`` (None for none or several)."""
    masters = [account_id_of(r) for r in records if is_master_account(r)]
    return masters[0] if len(masters) == 1 else None


def parse_accounts(body: Any, *, snapshot_date: dt.date | str, master_id: str | None = None) -> pl.DataFrame:
    """Account objects (a bare array, or the subaccounts2 wrapper) -> `accounts` rows, one per object.

    ``master_id`` names the login's master when it is not among the objects (a filtered list).
    """
    day = as_date(snapshot_date)
    records = account_records(body)
    master_id = master_id or login_master(records)
    return rows_to_frame(TABLE, [_account_row(r, day, master_id) for r in records])


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


def fetch_account_records(client: ApiClient) -> list[Mapping[str, Any]]:
    """The account objects visible to the session (accounts + FA sub-accounts), unique by id."""
    accounts = account_records(client.get(ACCOUNTS_PATH))
    records = list(accounts)
    if any(is_master_account(r) for r in accounts):
        records.extend(all_subaccounts(client.get))
    return _unique_by_id(records)


def select_accounts(records: list[Mapping[str, Any]], account_ids: Sequence[str] | None) -> list[Mapping[str, Any]]:
    """The records named in ``account_ids`` (all when empty); an id the login cannot see stops the run."""
    if not account_ids:
        return records
    visible = [account_id_of(r) for r in records]
    unknown = [a for a in account_ids if a not in visible]
    if unknown:
        # A typo must stop the run: filtering to nothing would land empty snapshots over good ones.
        raise ConfigError(
            "IBKR_ACCOUNT_IDS",
            f"{', '.join(unknown)} not visible to this login; it sees {', '.join(str(v) for v in visible) or 'none'}",
        )
    wanted = set(account_ids)
    return [r for r in records if account_id_of(r) in wanted]


def fetch_accounts(
    client: ApiClient,
    *,
    snapshot_date: dt.date | str,
    account_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Call /portfolio/accounts (and sub-account pages for a master) and return `accounts` rows."""
    records = fetch_account_records(client)
    chosen = select_accounts(records, account_ids)
    return parse_accounts(chosen, snapshot_date=snapshot_date, master_id=login_master(records))
