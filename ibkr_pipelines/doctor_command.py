"""``ibkr-pipelines doctor``: one line per thing that must hold for a night to land, green or red with what to do.

It reads and never takes: it opens the read-only session, asks the brokerage session's status without
opening it (``ssodh/init`` could log the user out of TWS), lists the accounts, and reads the shared
pacing state and the data folder. Nothing secret is printed: credentials are named by their setting.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ibkr_pipelines.client.auth import session_healthy
from ibkr_pipelines.client.factory import pacing_file
from ibkr_pipelines.client.flex_client import FlexAccess
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.pacing_store import FilePacingStore, PacingState
from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import SIMULATOR_AM_SCOPES, open_connection
from ibkr_pipelines.errors import IbkrPipelinesError, OAuthRefused
from ibkr_pipelines.extract.accounts import fetch_account_records, is_master_account, select_accounts
from ibkr_pipelines.sources import SOURCES, Source

_GREEN, _RED, _RESET = "\033[32m", "\033[31m", "\033[0m"


@dataclass(frozen=True)
class Finding:
    """One line of the report: what was checked, whether it holds, and what to do when it does not."""

    ok: bool
    topic: str
    said: str
    fix: str = ""


def _size(path: Path) -> str:
    if not path.exists():
        return "absent"
    total = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{total / 1_048_576:.1f} MiB"


def storage_findings(settings: Settings) -> list[Finding]:
    """Where the warehouse and the lake are, and how big (absent before the first ingest)."""
    lake = settings.data_dir / "lake"
    found = [Finding(True, "warehouse", f"{settings.db_path} ({_size(settings.db_path)})"),
             Finding(True, "lake", f"{lake} ({_size(lake)})")]
    if settings.data_dir.exists() and not _writable(settings.data_dir):
        found.append(Finding(False, "data folder", f"{settings.data_dir} is not writable", "fix IBKR_DATA_DIR or its permissions"))
    return found


def _writable(folder: Path) -> bool:
    probe = folder / ".doctor-probe"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def limits_findings(settings: Settings, base_url: str) -> list[Finding]:
    """The limits in force (IBKR's for the auth mode, with IBKR_LIMITS), and any penalty box running now."""
    limits = settings.limits()
    rates = ", ".join(f"{s.name} {w.count} per {w.seconds:g} s" for s in limits.scopes.values() for w in s.windows
                      if s.name in ("global", "history", "trades", "pa_allperiods"))
    history = limits.scopes.get("history")
    said = f"{rates}{f', history {history.concurrency} in flight' if history and history.concurrency else ''}"
    found = [Finding(True, "limits", said + (f" (IBKR_LIMITS={settings.limits_spec})" if settings.limits_spec else ""))]
    store = FilePacingStore(pacing_file(settings, base_url))
    state: PacingState = store.peek(lambda s, _now: s) if store.path.exists() else PacingState()
    now = time.monotonic()
    boxed = {name: s.penalty_until - now for name, s in state.scopes.items() if s.penalty_until > now}
    if boxed:
        for name, left in sorted(boxed.items()):
            found.append(Finding(False, "pacing", f"scope {name} is in IBKR's penalty box for {left:.0f} s more",
                                 "wait for it to end (runs wait by themselves); do not restart the gateway to clear it"))
    else:
        found.append(Finding(True, "pacing", f"no penalty box running ({store.path})"))
    return found


def session_findings(client: IbkrClient, settings: Settings) -> Iterator[Finding]:
    """The read-only session, the brokerage session's status, the accounts, and the datasets they allow."""
    where = client.route.root_url
    try:
        client.session.ensure_session(client)
    except IbkrPipelinesError as exc:
        yield Finding(False, "session", str(exc), "see the line above; then run doctor again")
        return
    yield Finding(True, "session", f"read-only session open at {where} ({settings.auth})")
    try:
        records = fetch_account_records(client)
        chosen = select_accounts(records, settings.account_ids)
    except IbkrPipelinesError as exc:
        yield Finding(False, "login accounts", str(exc), "check IBKR_ACCOUNT_IDS and the login's accounts")
        chosen = []
    else:
        masters = sum(1 for r in records if is_master_account(r))
        yield Finding(bool(chosen), "login accounts", f"{len(records)} visible ({masters} master, {len(records) - masters} "
                      f"other), {len(chosen)} selected", "" if chosen else "this login sees no account")
    brokerage = _brokerage_status(client)
    yield brokerage
    for finding in dataset_findings(settings, brokerage.ok, bool(chosen), client.flex_access,
                                    client.has_account_management()):
        yield finding


def _brokerage_status(client: IbkrClient) -> Finding:
    try:
        status: Any = client.call_unrecovered("POST", "/iserver/auth/status")
    except IbkrPipelinesError as exc:
        return Finding(False, "brokerage", f"status unknown: {exc}", "datasets that need it will say why when run")
    if session_healthy(status):
        return Finding(True, "brokerage", "brokerage session up (executions, orders and bars can be read)")
    if isinstance(status, dict) and status.get("competing"):
        return Finding(False, "brokerage", "another platform (TWS, the mobile app) holds the brokerage session",
                       "log out there, or set IBKR_COMPETE=true to take it over (that logs the other one out)")
    return Finding(True, "brokerage", "brokerage session not open yet: a run opens it (ssodh/init) when a dataset needs it")


def flex_finding(source: Source, flex: FlexAccess | None) -> Finding:
    """One line for a Flex statement's tables: they need a Flex token and query ids, not the session."""
    tables = f"{source.tables[0].rsplit('_', 1)[0]}_* ({len(source.tables)} tables)"
    if flex is None or not flex.query_ids:
        return Finding(True, tables, "not configured; set IBKR_FLEX_TOKEN and IBKR_FLEX_QUERY_IDS (Reports > "
                                     "Settings > Flex Web Service) and select them to land Flex statements")
    return Finding(True, tables, f"can be served from the Flex Web Service at {flex.url} (queries "
                                 f"{', '.join(flex.query_ids)}; targeted: dates up to yesterday)")


# Reference §3.1 and IBKR's pages ([rust-sdk], [am-ref-zh], see simulator/am_statements.py): the listing takes
# statements.read or reports.read; a document statements.read, statements.write or reports.write.
LISTING_SCOPES = ("statements.read", "reports.read")
DOCUMENT_SCOPES = ("statements.read", "statements.write", "reports.write")


def statements_finding(settings: Settings, account_management: bool) -> Finding:
    """One line for Account Management statements: they need OAuth 2.0 with a statements scope, not the session."""
    if not account_management:
        return Finding(True, "statements", "cannot be served by this login: Account Management takes OAuth 2.0 only; "
                                           "set IBKR_AUTH=oauth2 with statements.read in IBKR_OAUTH2_SCOPES to land them")
    scopes = settings.oauth2.scopes if settings.oauth2 else SIMULATOR_AM_SCOPES
    if not (set(scopes) & set(LISTING_SCOPES) and set(scopes) & set(DOCUMENT_SCOPES)):
        return Finding(True, "statements", f"cannot be served: the OAuth 2.0 scopes ({' '.join(scopes)}) lack "
                                           "statements.read; add it to IBKR_OAUTH2_SCOPES to land them")
    return Finding(True, "statements", "can be served (Account Management over OAuth 2.0, scopes "
                                       f"{' '.join(s for s in scopes if s in LISTING_SCOPES + DOCUMENT_SCOPES)}; "
                                       "targeted: dates up to yesterday)")


def dataset_findings(settings: Settings, brokerage_ok: bool, any_account: bool,
                     flex: FlexAccess | None = None, account_management: bool = False) -> list[Finding]:
    """Per dataset: can this login serve it now (its session tier, the settings it needs)?"""
    found = []
    for source in SOURCES.values():
        if source.name == "flex":
            found.append(flex_finding(source, flex))
            continue
        if source.name == "statements":
            found.append(statements_finding(settings, account_management))
            continue
        for table in source.tables:
            if source.brokerage and not brokerage_ok:
                found.append(Finding(False, table, "needs the brokerage session, which is not available",
                                     "see the brokerage line"))
            elif not any_account:
                found.append(Finding(False, table, "no account to read", "see the login accounts line"))
            elif table == "pa_transactions" and not settings.pa_transaction_conids:
                found.append(Finding(True, table, "not part of the night; name conids in IBKR_PA_TRANSACTION_CONIDS "
                                     "and select it to land it"))
            else:
                tier = "brokerage" if source.brokerage else "read-only"
                found.append(Finding(True, table, f"can be served ({tier} session{'' if source.nightly else ', targeted'})"))
    return found


def _printer(color: bool) -> Callable[[Finding], None]:
    def say(finding: Finding) -> None:
        mark = "ok  " if finding.ok else "FAIL"
        if color:
            mark = f"{_GREEN if finding.ok else _RED}{mark}{_RESET}"
        fix = f" -> {finding.fix}" if finding.fix and not finding.ok else ""
        print(f"{mark}  {finding.topic:<16} {finding.said}{fix}", flush=True)
    return say


def run_doctor() -> int:
    """Check settings, session, accounts, limits, pacing and storage; exit 0 when every line is green."""
    say = _printer(sys.stdout.isatty())
    try:
        settings = Settings.from_env()
    except IbkrPipelinesError as exc:
        say(Finding(False, "settings", str(exc), "fix that setting"))
        return 1
    where = settings.base_url or "the embedded simulator (no IBKR_BASE_URL: simulated accounts, not yours)"
    findings: list[Finding] = []

    def add(finding: Finding) -> None:
        findings.append(finding)
        say(finding)

    who = f" (consumer {settings.oauth1.consumer_key}, realm {settings.oauth1.realm})" if settings.oauth1 else ""
    if settings.oauth2:
        who = f" (client {settings.oauth2.client_id}, key id {settings.oauth2.key_id}, scopes {' '.join(settings.oauth2.scopes)})"
    add(Finding(True, "auth", f"{settings.auth}{who} -> {where}"))
    for finding in storage_findings(settings):
        add(finding)
    try:
        with open_connection(settings) as connection:
            for finding in limits_findings(settings, connection.client.route.base_url):
                add(finding)
            for finding in session_findings(connection.client, settings):
                add(finding)
    except OAuthRefused as exc:  # the line names the setting to fix already
        add(Finding(False, "connection", str(exc), "fix what it names, then run doctor again"))
    except IbkrPipelinesError as exc:
        add(Finding(False, "connection", str(exc), "check IBKR_BASE_URL and that the gateway runs"))
    return 0 if all(f.ok for f in findings) else 1
