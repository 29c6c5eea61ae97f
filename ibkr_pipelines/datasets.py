"""The datasets the connector lands: table, domain group, upstream tables, and how to fetch them."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.extract.accounts import fetch_accounts
from ibkr_pipelines.extract.allocation import fetch_allocation
from ibkr_pipelines.extract.common import empty_frame
from ibkr_pipelines.extract.contracts import fetch_contracts
from ibkr_pipelines.extract.ledger import fetch_ledger
from ibkr_pipelines.extract.positions import PositionsFetch, fetch_positions
from ibkr_pipelines.extract.summary import fetch_account_summary

# Requests per account are independent: a few in flight keep the pacer's budget busy while
# answers travel; the pacer alone decides when each one may start.
ACCOUNT_WORKERS = 4


@dataclass(frozen=True)
class FetchInputs:
    """What a fetch needs besides the client: the date, the accounts, and upstream lake frames."""

    as_of: datetime.date
    account_ids: tuple[str, ...]
    account_filter: tuple[str, ...]
    upstream: dict[str, pl.DataFrame]


@dataclass(frozen=True)
class FetchOutput:
    """The rows fetched, the accounts they cover (None: every account), and cold first reads repeated.

    ``accounts`` lists every account the fetch asked IBKR about, including those that answered no
    rows, so that a re-run replaces exactly those accounts' rows and leaves the others landed.
    """

    frame: pl.DataFrame
    cold_read_retries: int = 0
    accounts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """One landed table and the recipe to extract it."""

    table: str
    group: str
    description: str
    fetch: Callable[[ApiClient, FetchInputs], FetchOutput]
    upstream: tuple[str, ...] = ()
    per_account: bool = True


def stack(table: str, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Rows of several accounts as one frame (an empty frame of the table's layout when none)."""
    return pl.concat(frames, how="vertical") if frames else empty_frame(table)


def per_account(
    table: str, fetch_one: Callable[[ApiClient, str, datetime.date], pl.DataFrame]
) -> Callable[[ApiClient, FetchInputs], FetchOutput]:
    """Run a one-account fetch for every account (a few at once) and stack the rows."""

    def fetch(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
        with ThreadPoolExecutor(max_workers=ACCOUNT_WORKERS, thread_name_prefix="ibkr-account") as pool:
            frames = list(pool.map(lambda acct: fetch_one(client, acct, inputs.as_of), inputs.account_ids))
        return FetchOutput(stack(table, frames), accounts=inputs.account_ids)

    return fetch


def _accounts(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    frame = fetch_accounts(client, snapshot_date=inputs.as_of, account_ids=inputs.account_filter or None)
    return FetchOutput(frame, accounts=inputs.account_filter or None)


def _positions(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    def one(acct: str) -> PositionsFetch:
        return fetch_positions(client, acct, snapshot_date=inputs.as_of)

    with ThreadPoolExecutor(max_workers=ACCOUNT_WORKERS, thread_name_prefix="ibkr-positions") as pool:
        fetched = list(pool.map(one, inputs.account_ids))
    frames = [f.frame for f in fetched]
    return FetchOutput(
        stack("positions", frames),
        cold_read_retries=sum(f.cold_read_retries for f in fetched),
        accounts=inputs.account_ids,
    )


def _contracts(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    positions = inputs.upstream["positions"]
    conids = positions.get_column("conid").drop_nulls().unique().sort().to_list() if positions.height else []
    return FetchOutput(fetch_contracts(client, conids, inputs.as_of))


DATASETS: dict[str, Dataset] = {
    d.table: d
    for d in (
        Dataset("accounts", "portfolio", "Accounts visible to the login (FA master, sub-accounts, linked).",
                _accounts, per_account=False),
        Dataset("account_summary", "portfolio", "Account summary metrics (NLV, cash, margin...) per account.",
                per_account("account_summary", lambda c, a, d: fetch_account_summary(c, a, snapshot_date=d)), ("accounts",)),
        Dataset("ledger", "portfolio", "Cash and market values per currency, plus BASE, per account.",
                per_account("ledger", lambda c, a, d: fetch_ledger(c, a, snapshot_date=d)), ("accounts",)),
        Dataset("positions", "portfolio", "Open positions per account, with security definitions.",
                _positions, ("accounts",)),
        Dataset("allocation", "portfolio", "Long/short exposure by asset class, sector and group per account.",
                per_account("allocation", lambda c, a, d: fetch_allocation(c, a, snapshot_date=d)), ("accounts",)),
        Dataset("contracts", "reference", "Security definitions of every conid held (merged on conid).",
                _contracts, ("positions",), per_account=False),
    )
}


def datasets_in_group(group: str) -> list[Dataset]:
    """The datasets of one domain group, in landing order."""
    return [d for d in DATASETS.values() if d.group == group]
