"""Sources: each is one download from IBKR and the tables it feeds.

A source says how to fetch (an extractor over the ``ApiClient``), which tables its answers feed
(one today; a Flex statement will feed several), which tables it reads from the lake first (e.g.
contracts reads positions' conids), and whether it is fetched once per date of a window (snapshots
of "now", served by IBKR for the current date only) or once for the whole window. Everything
else about a table is in its spec (``schemas``); shared code reads both and names neither.
"""

from __future__ import annotations

import datetime
import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import polars as pl

from ibkr_pipelines.client.account_listing import account_id_of
from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.client.stats import with_attribution
from ibkr_pipelines.config import Settings
from ibkr_pipelines.extract.accounts import fetch_account_records, fetch_accounts, select_accounts
from ibkr_pipelines.extract.allocation import fetch_allocation
from ibkr_pipelines.extract.bar_fetch import stream_series
from ibkr_pipelines.extract.history import BarSeries
from ibkr_pipelines.extract.common import empty_frame
from ibkr_pipelines.extract.contracts import fetch_contracts
from ibkr_pipelines.extract.flex import fetch_flex
from ibkr_pipelines.extract.flex_executions import executions_from_flex
from ibkr_pipelines.extract.funding import fetch_funding
from ibkr_pipelines.errors import ConfigError, IbkrPipelinesError
from ibkr_pipelines.extract.ledger import fetch_ledger
from ibkr_pipelines.extract.orders import fetch_orders
from ibkr_pipelines.extract.pa_transactions import fetch_pa_transactions
from ibkr_pipelines.extract.performance import fetch_nav_and_returns
from ibkr_pipelines.extract.positions import fetch_positions
from ibkr_pipelines.extract.statements import fetch_account_statements
from ibkr_pipelines.extract.summary import fetch_account_summary
from ibkr_pipelines.extract.trades import fetch_executions
from ibkr_pipelines.extract.watchlist import fetch_watchlist
from ibkr_pipelines.land.documents import DocumentStore
from ibkr_pipelines.schemas.flex_tables import FLEX_TABLES
from ibkr_pipelines.schemas.spec import Reach
from ibkr_pipelines.trading_calendar import trading_date
from ibkr_pipelines.windows import DateWindow

progress = logging.getLogger("ibkr_pipelines.progress")  # what ingest shows while it runs

log = logging.getLogger(__name__)

# Requests per account are independent: a few in flight keep the pacer's budget busy while
# answers travel; the pacer alone decides when each one may start.
ACCOUNT_WORKERS = 4


@dataclass(frozen=True)
class FetchInputs:
    """What a fetch needs besides the client: its dates, the account filter, and upstream lake frames.

    For a per-date source ``window`` is one date (``as_of``); ``upstream`` holds that date's frames.
    ``settings`` carries what a targeted source is told to fetch (e.g. the conids of /pa/transactions).
    ``data_dir`` is where the run's data lives (staging's storage root): a source keeping files beside
    its rows (statements) writes them under it; None means ``settings.data_dir``.
    """

    window: DateWindow
    account_filter: tuple[str, ...]
    upstream: dict[str, pl.DataFrame]
    settings: Settings = field(default_factory=Settings)
    data_dir: Path | None = None

    @property
    def as_of(self) -> datetime.date:
        """The date a per-date fetch serves (the window's last date)."""
        return self.window.end



@dataclass(frozen=True)
class FetchOutput:
    """The rows fetched per table, the slice they cover (None: all of it), sparse pages read again.

    ``covered`` lists every value of the tables' slice column the fetch asked IBKR about (e.g. the
    accounts), including those that answered no rows, so that a re-run replaces exactly those
    accounts' rows and leaves the others landed.
    """

    frames: dict[str, pl.DataFrame]
    cold_read_retries: int = 0
    covered: tuple[str, ...] | None = None


@dataclass(frozen=True)
class History:
    """How a source of recent reach lands dates older than its reach: another IBKR service's fetch.

    IBKR's trades endpoint answers the last 7 days (reference §2.6); Flex statements reach back to the
    account's opening (§4). Staging sends the part of a window older than the reach here, served as
    ``reach`` says (Flex: a date from the next day).
    """

    fetch: Callable[[ApiClient, "FetchInputs"], "FetchOutput | Iterator[FetchOutput]"]
    reach: Reach
    description: str
    # Days past its window the fetch reads (served so): Flex reports an evening fill on its next date.
    lead_days: int = 0


@dataclass(frozen=True)
class Source:
    """One download and the tables it feeds; see the module docstring."""

    name: str
    tables: tuple[str, ...]
    group: str
    description: str
    # One output, or several yielded as they arrive (a long window streams to disk answer by answer).
    fetch: Callable[[ApiClient, FetchInputs], "FetchOutput | Iterator[FetchOutput]"]
    upstream: tuple[str, ...] = ()
    per_date: bool = True
    # Tables read from the lake where landed, without waiting for them (no Dagster dependency): a
    # dataset that may fail on its own (executions, when TWS holds the brokerage session) must not
    # stop this one.
    reads: tuple[str, ...] = ()
    # Tables read at their newest landed date (and at the window's dates where landed): what is held
    # and watched now decides a window of any age (bars of a past year for today's holdings). The
    # Dagster asset depends on them (so the nightly run lands them first), but staging does not
    # require their window: a backfill of a past range needs no past snapshot (a real account has none).
    reads_latest: tuple[str, ...] = ()
    nightly: bool = True  # part of the nightly ingestion job (daily partitions)
    # How many days one fetch answers, ending at its window's end (IBKR's trades endpoint: the last 7).
    # Staging lands all of them, so a night also refreshes the days before it and up to
    # span_days - 1 missed nights lose nothing.
    span_days: int = 1
    # Served by IBKR's brokerage session (/iserver, reference §1.1): it fails on its own, with one line,
    # while TWS or the mobile app holds that session (doctor says which datasets this login can serve).
    brokerage: bool = False
    # Where dates older than the reach come from (executions: Flex trades); None: the reach is the limit.
    history: History | None = None

    def staged_window(self, window: DateWindow, oldest: datetime.date | None = None) -> DateWindow:
        """The dates a fetch for ``window`` lands: widened back to ``span_days``, not before ``oldest`` IBKR serves."""
        start = window.end - datetime.timedelta(days=self.span_days - 1)
        if oldest is not None:
            start = max(start, oldest)
        return DateWindow(min(window.start, start), window.end)


def stack(table: str, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Rows of several accounts as one frame (an empty frame of the table's layout when none)."""
    return pl.concat(frames, how="vertical") if frames else empty_frame(table)


# The accounts each client's login lists: listed once per client, at the first fetch that needs it.
_LISTED: "weakref.WeakKeyDictionary[ApiClient, list[Mapping[str, Any]]]" = weakref.WeakKeyDictionary()
_LISTED_LOCK = threading.Lock()


def login_accounts(client: ApiClient, account_filter: tuple[str, ...]) -> tuple[str, ...]:
    """The accounts a per-account source asks about: the login's listing, narrowed by IBKR_ACCOUNT_IDS.

    The listing is made once per client (IBKR allows one per 5 s), not per date or per source:
    which accounts a login sees is an answer about now. It is archived with the answers of the
    fetch that made it; a rebuild of another source of the same run replays it from there.
    """
    owner = getattr(client, "wrapped", client)  # a wrapper of one fetch (reuse.ReusingClient) shares its client's listing
    with _LISTED_LOCK:
        records = _LISTED.get(owner)
        if records is None:
            records = _LISTED[owner] = fetch_account_records(client)
    return tuple(str(account_id_of(r)) for r in select_accounts(records, account_filter or None))


class AccountFetch(Protocol):
    """What a one-account fetch that may re-read cold pages returns (positions, trades)."""

    frame: pl.DataFrame
    cold_read_retries: int


def each_account(client: ApiClient, inputs: FetchInputs, table: str,
                 fetch_one: Callable[[str], "AccountFetch | pl.DataFrame"]) -> FetchOutput:
    """Run a one-account fetch for every account of the login (a few at once) and stack the rows of ``table``."""
    accounts = login_accounts(client, inputs.account_filter)
    with ThreadPoolExecutor(max_workers=ACCOUNT_WORKERS, thread_name_prefix=f"ibkr-{table}") as pool:
        fetched = list(pool.map(with_attribution(fetch_one), accounts))  # requests count for this step
    frames = [f if isinstance(f, pl.DataFrame) else f.frame for f in fetched]
    retries = sum(0 if isinstance(f, pl.DataFrame) else f.cold_read_retries for f in fetched)
    return FetchOutput({table: stack(table, frames)}, cold_read_retries=retries, covered=accounts)


def per_account(
    table: str, fetch_one: Callable[[ApiClient, str, datetime.date], pl.DataFrame]
) -> Callable[[ApiClient, FetchInputs], FetchOutput]:
    """A source fetch running a one-account, one-date fetch for every account of the login."""

    def fetch(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
        return each_account(client, inputs, table, lambda acct: fetch_one(client, acct, inputs.as_of))

    return fetch


def _accounts(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    frame = fetch_accounts(client, snapshot_date=inputs.as_of, account_ids=inputs.account_filter or None)
    return FetchOutput({"accounts": frame}, covered=inputs.account_filter or None)


def _positions(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    return each_account(client, inputs, "positions",
                        lambda acct: fetch_positions(client, acct, snapshot_date=inputs.as_of))


def _contracts(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    """Every conid held or traded (the executions landed over the last 7 days), so the dimension stays complete."""
    conids: set[int] = set()
    for table in ("positions", "executions"):
        frame = inputs.upstream.get(table)
        if frame is not None and frame.height:
            conids.update(frame.get_column("conid").drop_nulls().to_list())
    return FetchOutput({"contracts": fetch_contracts(client, sorted(conids), inputs.as_of)})


def _watchlist(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    entries = inputs.settings.watchlist
    frame = fetch_watchlist(client, entries, seen_date=inputs.as_of) if entries else empty_frame("watchlist")
    return FetchOutput({"watchlist": frame})


def _executions(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    return each_account(client, inputs, "executions", lambda acct: fetch_executions(client, acct, inputs.window))


FLEX_LEAD_DAYS = 1


def _executions_from_flex(client: ApiClient, inputs: FetchInputs) -> Iterator[FetchOutput]:
    """The window's fills from the Flex statements' trade lines, for dates the trades endpoint no longer serves."""
    accounts = login_accounts(client, inputs.account_filter)
    # A fill of New York's evening on an Asian exchange is reported on the next date (its local trade
    # date): the statements are asked one day further, and the rows kept by their New York date.
    asked = DateWindow(inputs.window.start, inputs.window.end + datetime.timedelta(days=FLEX_LEAD_DAYS))
    lines = 0
    for frames in fetch_flex(client, asked):
        trades = frames.get("flex_trades")
        if trades is not None and trades.height:
            lines += trades.height
            mine = trades.filter(pl.col("account_id").is_in(list(accounts)))
            yield FetchOutput({"executions": executions_from_flex(mine, inputs.window)}, covered=accounts)
    if not lines:  # a quiet period, or queries without the section: the dates land empty, so say which
        log.warning("executions %s: the Flex statements have no trade lines; if fills are missing, give "
                    "IBKR_FLEX_QUERY_IDS a query with the Trades (or Trade Confirmation) section", inputs.window)
    yield FetchOutput({"executions": empty_frame("executions")}, covered=accounts)  # accounts without a fill too


def _orders(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    accounts = login_accounts(client, inputs.account_filter)
    return FetchOutput({"orders": fetch_orders(client, inputs.as_of, accounts).frame}, covered=accounts)


def _performance(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    accounts = login_accounts(client, inputs.account_filter)
    return FetchOutput(fetch_nav_and_returns(client, accounts, inputs.window), covered=accounts)


def _pa_transactions(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    conids = inputs.settings.pa_transaction_conids
    if not conids:
        raise ConfigError("IBKR_PA_TRANSACTION_CONIDS",
                          "name the conids whose /pa/transactions to land (IBKR answers one conid per call, "
                          "one call per 15 minutes), e.g. 265598,756733")
    accounts = login_accounts(client, inputs.account_filter)
    # IBKR counts `days` back from its own today, which on a real account may be later than the window.
    today = max(inputs.window.end, trading_date())
    frame = fetch_pa_transactions(client, accounts, conids, inputs.window, today)
    return FetchOutput({"pa_transactions": frame}, covered=tuple(str(c) for c in conids))


def _funding(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    """Every account's recent funding instructions as observed now; an account whose query IBKR kept refusing is
    left out of what the fetch covers."""
    accounts = login_accounts(client, inputs.account_filter)
    with ThreadPoolExecutor(max_workers=ACCOUNT_WORKERS, thread_name_prefix="ibkr-funding") as pool:
        fetched = list(pool.map(with_attribution(lambda acct: fetch_funding(client, acct, observed=inputs.as_of)),
                                accounts))
    answered = [(acct, frame) for acct, frame in zip(accounts, fetched) if frame is not None]
    return FetchOutput({"funding_instructions": stack("funding_instructions", [f for _, f in answered])},
                       covered=tuple(acct for acct, _ in answered))


def bar_universe(inputs: FetchInputs) -> list[BarSeries]:
    """The series to fetch: every conid held (positions) or watched (watchlist), in each IBKR_BAR_SIZES size.

    Forex has no traded prices (TWS API "Historical Bar whatToShow": no TRADES for Forex), so a cash
    position's series is Midpoint whatever IBKR_BAR_SOURCE says.
    """
    settings, kinds = inputs.settings, {}
    for table in ("positions", "watchlist"):
        frame = inputs.upstream.get(table)
        if frame is None or not frame.height:
            continue
        classes = frame.get_column("asset_class").to_list() if "asset_class" in frame.columns else [None] * frame.height
        for conid, asset_class in zip(frame.get_column("conid").to_list(), classes):
            if conid is not None:
                kinds[int(conid)] = kinds.get(int(conid)) or asset_class
    return [
        BarSeries(conid, size, "Midpoint" if kinds[conid] == "CASH" else settings.bar_source, settings.bars_outside_rth)
        for conid in sorted(kinds)
        for size in settings.bar_sizes
    ]


def _bars(client: ApiClient, inputs: FetchInputs) -> Iterator[FetchOutput]:
    """Every series of the universe over the window, streamed answer by answer (five chains in flight)."""
    for frame in stream_series(client, bar_universe(inputs), inputs.window):
        yield FetchOutput({"bars": frame})


def _flex(client: ApiClient, inputs: FetchInputs) -> Iterator[FetchOutput]:
    """Each saved Flex query over the window, handed to staging chunk by chunk as the XML is parsed."""
    for frames in fetch_flex(client, inputs.window):
        yield FetchOutput({spec.name: frames.get(spec.name, empty_frame(spec.name)) for spec in FLEX_TABLES})


def account_management_of(client: ApiClient) -> Any:
    """This login's Account Management client (``IbkrClient.account_management``), or one line saying why there is none."""
    owner: Any = getattr(client, "wrapped", client)  # a fetch's wrapper (reuse.ReusingClient) shares its client's
    if not callable(getattr(owner, "account_management", None)):
        raise IbkrPipelinesError("statements are not replayed from the raw archive (it keeps a digest of each "
                                 "document, not the document): the files already landed are in the lake; ingest "
                                 "those dates again to fetch them anew")
    if not getattr(owner, "has_account_management", lambda: True)():
        raise ConfigError("IBKR_AUTH", "statements come from IBKR's Account Management API, which takes OAuth 2.0 "
                                       "only: set IBKR_AUTH=oauth2 with statements.read in IBKR_OAUTH2_SCOPES")
    return owner.account_management()


def _statements(client: ApiClient, inputs: FetchInputs) -> FetchOutput:
    """Per account, the listed statements the window lands, saved as files; one line per statement that did not land.

    The run fails (with the first line) only when statements were listed and none landed.
    """
    am = account_management_of(client)
    store = DocumentStore(inputs.data_dir or inputs.settings.data_dir)
    failures: list[str] = []
    unlisted: list[str] = []
    lock = threading.Lock()

    def one(account_id: str) -> pl.DataFrame:
        got = fetch_account_statements(am, account_id, inputs.window, store)
        with lock:
            failures.extend(got.failures)
            unlisted.extend([account_id] if got.unlisted else [])
        return got.frame

    out = each_account(client, inputs, "statements", one)
    if unlisted:
        progress.info("statements: %d account(s) have no daily statement listed for some dates of %s (IBKR lists 2 "
                      "years plus year-to-date, from the funding date, up to yesterday), e.g. %s",
                      len(unlisted), inputs.window, min(unlisted))
    if failures and not out.frames["statements"].height:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise IbkrPipelinesError(f"no statement landed: {failures[0]}{more}")
    return out


def _source(name: str, group: str, description: str, fetch: Callable[[ApiClient, FetchInputs], FetchOutput],
            upstream: tuple[str, ...] = (), reads: tuple[str, ...] = ()) -> Source:
    """A per-date, nightly source feeding the one table of its name."""
    return Source(name, (name,), group, description, fetch, upstream, reads=reads)


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        _source("accounts", "portfolio", "Accounts visible to the login (FA master, sub-accounts, linked).", _accounts),
        _source("account_summary", "portfolio", "Account summary metrics (NLV, cash, margin...) per account.",
                per_account("account_summary", lambda c, a, d: fetch_account_summary(c, a, snapshot_date=d))),
        _source("ledger", "portfolio", "Cash and market values per currency, plus BASE, per account.",
                per_account("ledger", lambda c, a, d: fetch_ledger(c, a, snapshot_date=d))),
        _source("positions", "portfolio", "Open positions per account, with security definitions.",
                _positions),
        _source("allocation", "portfolio", "Long/short exposure by asset class, sector and group per account.",
                per_account("allocation", lambda c, a, d: fetch_allocation(c, a, snapshot_date=d))),
        # /iserver/account/trades answers the last 7 days (reference §2.6): each night lands all seven.
        Source("executions", ("executions",), "trading",
               "Executions of the last 7 days per account (/iserver/account/trades), upserted on execution_id; "
               "older dates from the Flex statements' trade lines.",
               _executions, per_date=False, span_days=7, brokerage=True,
               history=History(_executions_from_flex, Reach.SETTLED,
                               "Flex statements (IBKR_FLEX_QUERY_IDS with the Trades or Trade Confirmation section)",
                               lead_days=FLEX_LEAD_DAYS)),
        Source("orders", ("orders",), "trading",
               "The brokerage session's orders (/iserver/account/orders), a daily snapshot.", _orders, brokerage=True),
        _source("contracts", "reference", "Security definitions of every conid held or traded (merged on conid).",
                _contracts, ("positions",), reads=("executions",)),
        _source("watchlist", "reference", "Symbols of IBKR_WATCHLIST resolved to conids (merged on the entry).",
                _watchlist),
        # One /pa/allperiods call answers every account (1 call per 15 minutes, reference §2.7).
        Source("performance", ("nav_daily", "returns_daily"), "performance",
               "Daily NAV and time-weighted returns per account from one /pa/allperiods call.",
               _performance, per_date=False, span_days=7),
        # Range requests (reference §2.8: 1000 points each) over the whole window, not one per date.
        Source("bars", ("bars",), "market_data",
               "Historical bars (IBKR_BAR_SIZES) of every conid held or watched, chained back from the window's end "
               "in requests of up to 1000 bars, five series in flight.",
               _bars, per_date=False, reads_latest=("positions", "watchlist"), brokerage=True),
        # One conid per call and one call per 15 minutes: a targeted dataset, not part of the night.
        Source("pa_transactions", ("pa_transactions",), "performance",
               "Portfolio Analyst transactions of the conids in IBKR_PA_TRANSACTION_CONIDS (one call each).",
               _pa_transactions, per_date=False, nightly=False),
        # Flex statements (reference §4): every IBKR_FLEX_QUERY_IDS query over the window, one statement
        # feeding eight tables. Targeted: a statement is ready only after IBKR's close of business.
        Source("flex", tuple(spec.name for spec in FLEX_TABLES), "reports",
               "Flex statements of IBKR_FLEX_QUERY_IDS over the window: trades, open positions, cash transactions, "
               "transfers, corporate actions, conversion rates, NAV, and every other row kept.",
               _flex, per_date=False, nightly=False),
        # Account Management statements (reference §3.3): documents, kept as files in the lake. Targeted like
        # flex: a date's statement is ready around midnight ET of the next day.
        Source("statements", ("statements",), "reports",
               "Account Management statements (PDF) per account, saved under lake/statements_files: the daily "
               "statement of each date of the window that /statements/available lists, plus the monthly one of a "
               "month whose last day is in the window and the annual one of a year whose 31 December is.",
               _statements, per_date=False, nightly=False),
        # Account Management (reference §3.4): one asynchronous recent-instructions query per account, then the
        # pending and rejected instructions polled. Targeted: only an OAuth 2.0 login with instructions.read is
        # served; the funding sensor lands it whenever an instruction is processed or rejected.
        Source("funding", ("funding_instructions",), "funding",
               "Funding instructions of the last 30 days per account and status (deposits, withdrawals, internal "
               "transfers), from Account Management's recent-instructions query and instruction polling.",
               _funding, nightly=False),
    )
}


def register_source(source: Source) -> Source:
    """Add a source (a new dataset, or a test's); returns it."""
    SOURCES[source.name] = source
    return source


def unregister_source(name: str) -> None:
    """Remove a source added with ``register_source``."""
    SOURCES.pop(name, None)


def sources_in_group(group: str) -> list[Source]:
    """The sources of one domain group, in landing order."""
    return [s for s in SOURCES.values() if s.group == group]


def nightly_tables() -> list[str]:
    """The tables the nightly job lands (every table of a nightly source), in landing order."""
    return [t for s in SOURCES.values() if s.nightly for t in s.tables]


def source_of(table: str) -> Source:
    """The source that feeds ``table``."""
    for source in SOURCES.values():
        if table in source.tables:
            return source
    raise KeyError(f"no source feeds table {table!r}; tables: {', '.join(t for s in SOURCES.values() for t in s.tables)}")
