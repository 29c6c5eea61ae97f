"""The funding sensor: lands cash again when a deposit, withdrawal or transfer is processed, and records rejections.

Each tick, within a deadline and a request budget (Account Management allows 10 requests per second per
endpoint and 600 per minute per master account, reference §3.1; the transport paces them):

1. every ``QUERY_EVERY`` the sensor asks each account's recent instructions (``POST /instructions/query``,
   202: an asynchronous query, reference §3.4) and keeps the query's instructionId in its cursor;
2. a query that is PROCESSED gives the account's instructions: the first one of an account is its
   baseline (what was already final is not news); a later one adds new instructions, and one already
   final that the sensor never saw pending (it came and went between two queries) is polled as in 3;
3. every instruction the sensor knows as pending is polled (``GET /instructions/{instructionId}``);
   PROCESSED or REJECTED is a change.

A change is recorded in the cursor (so it triggers once, across restarts: the cursor is JSON in Dagster's
storage) and asks for one run, keyed ``funding:<instructionId>:<status>``, for the accounts it concerns
(``account_ids`` of the ibkr resource), on the partition of the trading date it was resolved:

- PROCESSED: the cash-bearing datasets (ledger, account_summary, positions, nav_daily and returns_daily)
  and funding_instructions: the cash moved, so what analysts see of it must too;
- REJECTED: funding_instructions only, so the rejection and its reason land; a rejected instruction moves
  no cash (reference §3.4: only a processed instruction settles), so re-landing cash would spend the
  /pa budget (one call per 15 minutes) to write the same numbers.

Nothing changed: a ``SkipReason`` saying what was polled. The deadline is checked before each request; one
request is bounded by the transport's own retry policy (a 429 waits out its penalty). During IBKR's banking downtime (reference §3.1:
daily 11:45 pm-12:30 am ET, all Saturday, Sunday before 3 pm ET) the sensor sends nothing and says so.
The sensor only reads: it never creates or cancels an instruction.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import dagster as dg

from assets.factory import lake_key, warehouse_key
from assets.bounded_look import BoundedLook
from assets.resources import IbkrResource
from ibkr_pipelines.client.am_client import AccountManagementClient
from ibkr_pipelines.connection import open_connection
from ibkr_pipelines.errors import IbkrError, ProblemAnswer
from ibkr_pipelines.extract.funding import TERMINAL, am_client_of, instant, next_client_instruction_id, poll, query_body
from ibkr_pipelines.sources import login_accounts
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE, trading_date, utc_now


CASH_TABLES = ("ledger", "account_summary", "positions", "nav_daily", "returns_daily")
FUNDING_TABLE = "funding_instructions"
QUERY_EVERY = dt.timedelta(minutes=15)  # how often the accounts' recent instructions are asked
QUERY_GIVE_UP = dt.timedelta(minutes=10)  # a query still pending this long is asked again (IBKR: about a minute)
FORGET_AFTER = dt.timedelta(days=35)  # instructions older than the query's 30 days leave the cursor
DEADLINE_SECONDS = 20.0
UNSEEN = "UNSEEN"  # the cursor's mark of an instruction a query listed as final that the sensor never saw pending
MAX_REQUESTS = 100  # per tick, far under 600 per minute per master account


@dataclass
class Known:
    """An instruction the sensor has seen: its last status, the accounts it concerns, what it is."""

    status: str
    accounts: list[str]
    type: str | None = None
    amount: float | None = None
    currency: str | None = None
    requested: str | None = None  # requestDate as IBKR wrote it
    instruction_set_id: int | None = None
    client_instruction_id: int | None = None
    resolved: str | None = None  # processedTimestamp, once final
    reason: str | None = None  # errorCode: errorMessage of a rejection


@dataclass
class FundingCursor:
    """The sensor's memory (JSON): instructions seen, queries in flight, accounts with a baseline, last query round."""

    known: dict[str, Known] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> {"id": instructionId, "asked": iso}
    baseline: list[str] = field(default_factory=list)
    asked_at: str | None = None

    @classmethod
    def from_json(cls, text: str | None) -> "FundingCursor":
        """The cursor a tick left (empty when there is none)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls({k: Known(**v) for k, v in data.get("known", {}).items()}, data.get("queries", {}),
                   data.get("baseline", []), data.get("asked_at"))

    def to_json(self) -> str:
        """Compact, stable JSON of the cursor."""
        return json.dumps({"known": {k: asdict(v) for k, v in sorted(self.known.items())}, "queries": self.queries,
                           "baseline": sorted(self.baseline), "asked_at": self.asked_at},
                          separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class Change:
    """An instruction that reached PROCESSED or REJECTED, and the trading date its run snapshots (the sensor's now)."""

    instruction_id: int
    status: str
    accounts: tuple[str, ...]
    trading_date: dt.date
    what: str  # e.g. "DEPOSIT 2500.0 USD"
    # An account that showed the instruction only after it was announced final (a transfer's other side):
    # its own run, keyed apart, since the first run covered only the accounts known then.
    late: bool = False

    @property
    def run_key(self) -> str:
        """Instruction id and status (and the late account): a change triggers once."""
        key = f"funding:{self.instruction_id}:{self.status}"
        return f"{key}:{self.accounts[0]}" if self.late else key


def banking_down(now: dt.datetime) -> bool:
    """Whether ``now`` is in IBKR's banking downtime (reference §3.1): 23:45-00:30 ET daily, Saturday, Sunday to 15:00."""
    local = now.astimezone(TRADING_TIMEZONE)
    t, day = local.time(), local.weekday()
    return (day == 5 or (day == 6 and t < dt.time(15)) or t >= dt.time(23, 45) or t < dt.time(0, 30))


class _Budget:
    """A tick's deadline and request budget."""

    def __init__(self, seconds: float, requests: int, monotonic: Callable[[], float]) -> None:
        self.until, self.left, self.monotonic = monotonic() + seconds, requests, monotonic

    def take(self) -> bool:
        """Whether one more request fits (and count it)."""
        if self.left <= 0 or self.monotonic() >= self.until:
            return False
        self.left -= 1
        return True


def _change(iid: str, k: Known, now: dt.datetime) -> Change:
    """The change ``k`` announces, for the partition of the sensor's now: the cash datasets snapshot "now", so a
    change noticed a day late (a sensor switched off) lands today's cash, never a past date's."""
    return Change(int(iid), k.status, tuple(sorted(k.accounts)), trading_date(now),
                  f"{k.type or 'instruction'} {k.amount} {k.currency or ''}".strip())


def _settle(k: Known, result: Any) -> None:
    """Take a polled result's status, time and reason into ``k``."""
    k.status = str(result.get("instructionStatus") or k.status)
    k.resolved = result.get("processedTimestamp") or k.resolved
    error = result.get("error")
    if isinstance(error, dict):
        k.reason = f"{error.get('errorCode', '')}: {error.get('errorMessage', '')}".strip(": ")


class FundingTick:
    """One evaluation: ask, read answered queries, poll pending instructions; the changes and a note of what was done."""

    def __init__(self, am: AccountManagementClient, accounts: tuple[str, ...], cursor: FundingCursor,
                 now: dt.datetime, budget: _Budget) -> None:
        self.am, self.accounts, self.cursor, self.now, self.budget = am, accounts, cursor, now, budget
        self.changes: list[Change] = []
        self.notes: list[str] = []

    def run(self) -> list[Change]:
        """Every step in turn, as far as the deadline and the budget allow."""
        self._ask()
        self._read_queries()
        self._poll_pending()
        self._forget_old()
        return self.changes

    def _ask(self) -> None:
        last = instant(self.cursor.asked_at)
        if last is not None and self.now - last < QUERY_EVERY:
            return
        asked = 0
        for account in self.accounts:
            if account in self.cursor.queries or not self.budget.take():
                continue
            try:
                answer = self.am.post("/instructions/query", json=query_body(account, next_client_instruction_id()))
            except ProblemAnswer as problem:
                if problem.status != 422:
                    raise
                self.notes.append(f"{account}'s query refused for now ({problem})")  # one already running
                continue
            qid = (answer.get("instructionResult") or {}).get("instructionId")
            if qid is not None:
                self.cursor.queries[account] = {"id": int(qid), "asked": self.now.isoformat()}
                asked += 1
        self.cursor.asked_at = self.now.isoformat()
        self.notes.append(f"asked {asked} account(s)' recent instructions")

    def _read_queries(self) -> None:
        for account, query in list(self.cursor.queries.items()):
            if not self.budget.take():
                return
            result = poll(self.am, int(query["id"]))
            history = (result or {}).get("instructionHistory")
            if isinstance(history, dict):
                del self.cursor.queries[account]
                self._merge(account, [r for r in history.get("result") or [] if isinstance(r, dict)])
            elif result is None or self.now - (instant(query["asked"]) or self.now) > QUERY_GIVE_UP:
                del self.cursor.queries[account]  # unknown, rejected or stuck: asked again at the next round
                self.cursor.asked_at = None

    def _merge(self, account: str, rows: list[dict[str, Any]]) -> None:
        """Take an account's history in: new instructions, and final ones never seen pending (after its baseline)."""
        first = account not in self.cursor.baseline
        for row in rows:
            iid, status = row.get("ibInstructionId"), row.get("status")
            if iid is None or status is None:
                continue
            k = self.cursor.known.get(str(iid))
            if k is None:
                # Final before the sensor ever saw it (after the baseline): UNSEEN until the poll below makes it a change.
                kept = UNSEEN if status in TERMINAL and not first else str(status)
                self.cursor.known[str(iid)] = Known(
                    kept, [account], row.get("instructionType"), row.get("amount"), row.get("currency"),
                    row.get("requestDate"), row.get("instructionSetId"), row.get("clientInstructionId"))
                continue
            if account not in k.accounts:
                k.accounts.append(account)
                if k.status in TERMINAL:  # announced already for the other account(s): this one's cash moved too
                    announced = _change(str(iid), k, self.now)
                    self.changes.append(replace(announced, accounts=(account,), late=True))
            if k.status not in TERMINAL and status not in TERMINAL and k.status != UNSEEN:
                k.status = str(status)  # PENDING_VERIFICATION -> PENDING; a final status comes from the poll
        if first:
            self.cursor.baseline.append(account)

    def _poll_pending(self) -> None:
        pending = [(iid, k) for iid, k in self.cursor.known.items() if k.status not in TERMINAL]
        for iid, k in pending:
            if not self.budget.take():
                self.notes.append("deadline or request budget reached; the rest next tick")
                return
            result = poll(self.am, int(iid), k.client_instruction_id, k.instruction_set_id)
            if result is None:
                continue  # unknown to IBKR (404) or another set's (208): asked again next tick, forgotten with age
            status = result.get("instructionStatus")
            if status in TERMINAL:
                _settle(k, result)
                self.changes.append(_change(iid, k, self.now))
            elif status and k.status == UNSEEN:
                k.status = str(status)
        self.notes.append(f"polled {len(pending)} pending instruction(s)")

    def _forget_old(self) -> None:
        """Instructions requested before the query's reach (30 days) leave the cursor, final or not."""
        for iid, k in list(self.cursor.known.items()):
            requested = instant(k.requested)
            if requested is not None and self.now - requested > FORGET_AFTER:
                del self.cursor.known[iid]


def run_request(change: Change, account_filter: str) -> dg.RunRequest:
    """The run a change asks for: cash datasets and funding_instructions (PROCESSED) or funding only (REJECTED)."""
    tables = (*CASH_TABLES, FUNDING_TABLE) if change.status == "PROCESSED" else (FUNDING_TABLE,)
    return dg.RunRequest(
        run_key=change.run_key,
        partition_key=change.trading_date.isoformat(),
        asset_selection=[key for t in tables for key in (lake_key(t), warehouse_key(t))],
        run_config={"resources": {"ibkr": {"config": {"account_ids": account_filter}}}},
        tags={"funding/instruction_id": str(change.instruction_id), "funding/status": change.status,
              "funding/accounts": account_filter},
    )


# How long a tick waits for its look (the look's own budget is DEADLINE_SECONDS between requests; a login,
# a listing or a 429 penalty may add to it), well under Dagster's 60 s sensor timeout.
TICK_WAIT_SECONDS = 40.0
LOOKS: BoundedLook[tuple[FundingTick | None, IbkrError | None]] = BoundedLook("funding")


def _poll(ibkr: IbkrResource, cursor: FundingCursor, at: dt.datetime, deadline_seconds: float,
          monotonic: Callable[[], float]) -> tuple[FundingTick | None, IbkrError | None]:
    """One look on a copy of the cursor, through a connection of its own (closed here, whenever the tick ends)."""
    mine = FundingCursor.from_json(cursor.to_json())
    tick: FundingTick | None = None
    try:
        with open_connection(ibkr.settings(), simulator_options=ibkr.simulator_options) as connection:
            accounts = login_accounts(connection.client, ibkr.settings().account_ids)
            tick = FundingTick(am_client_of(connection.client), accounts, mine, at,
                               _Budget(deadline_seconds, MAX_REQUESTS, monotonic))
            tick.run()
    except IbkrError as exc:
        return tick, exc
    return tick, None


def make_funding_sensor(now: Callable[[], dt.datetime] = utc_now, *, deadline_seconds: float = DEADLINE_SECONDS,
                        monotonic: Callable[[], float] = time.monotonic) -> dg.SensorDefinition:
    """The funding sensor, reading the time from ``now`` (the wall clock; tests pass the simulator's)."""

    @dg.sensor(
        name="funding_sensor",
        job_name="targeted_ingestion",
        minimum_interval_seconds=60,
        description="Polls IBKR's pending funding instructions; when one is processed, lands the affected accounts' "
                    "cash, positions and NAV again (and funding_instructions); a rejection lands funding_instructions.",
    )
    def funding_sensor(context: dg.SensorEvaluationContext, ibkr: IbkrResource) -> dg.SensorResult:
        """One tick: poll within the deadline, record changes in the cursor, one run request per change."""
        at = now()
        cursor = FundingCursor.from_json(context.cursor)
        if banking_down(at):
            return dg.SensorResult(skip_reason=dg.SkipReason(
                f"IBKR's banking endpoints are in their scheduled downtime at {at.astimezone(TRADING_TIMEZONE):%a %H:%M} "
                "ET (reference §3.1); nothing asked"), cursor=cursor.to_json())
        outcome = LOOKS.within(lambda: _poll(ibkr, cursor, at, deadline_seconds, monotonic), TICK_WAIT_SECONDS)
        if isinstance(outcome, str):  # the look goes on alone; the cursor stays, so the next look does its work
            return dg.SensorResult(skip_reason=dg.SkipReason(outcome), cursor=cursor.to_json())
        tick, failure = outcome
        if failure is not None:  # what was learned before the failure is kept, and its changes still run
            context.log.warning(f"funding sensor: {failure}")
            if tick is None or not tick.changes:
                kept = tick.cursor if tick is not None else cursor  # queries already sent stay known
                return dg.SensorResult(skip_reason=dg.SkipReason(f"IBKR failed: {failure}"), cursor=kept.to_json())
        assert tick is not None
        cursor = tick.cursor
        changes = tick.changes
        for c in changes:
            context.log.info(f"funding: instruction {c.instruction_id} ({c.what}) {c.status} for "
                             f"{', '.join(c.accounts)} on {c.trading_date}")
        if not changes:
            pending = sum(1 for k in cursor.known.values() if k.status not in TERMINAL)
            return dg.SensorResult(skip_reason=dg.SkipReason(
                f"no funding instruction was processed or rejected: {pending} pending, "
                f"{len(cursor.queries)} query(ies) in flight ({'; '.join(tick.notes)})"), cursor=cursor.to_json())
        return dg.SensorResult(run_requests=[run_request(c, ",".join(c.accounts)) for c in changes],
                               cursor=cursor.to_json())

    return funding_sensor


funding_sensor = make_funding_sensor()
