"""Funding instructions → `funding_instructions` rows, through Account Management (reference §3.4). Read only.

Per account: ``POST /instructions/query`` (QUERY_RECENT_INSTRUCTIONS, 30 days back) is accepted with 202 and a
PENDING query instruction; its history arrives when that instruction, polled by its own instructionId, is
PROCESSED ("about a minute later" in IBKR's example), so the fetch polls with a growing pause under a
deadline. Then every listed instruction still pending is polled by ``/instructions/{instructionId}`` (IBKR's
id, unique), or by ``/client-instructions/{clientInstructionId}`` when the history gives no instructionId;
a rejected one is polled for its reason. What the answers mean (§3.4, §3.1; ``client/am_rules.py`` turns
problem+json into one-line ``ProblemAnswer``s):

- 404 on a poll: the id is unknown to IBKR: the history's status is kept;
- 208 on a poll: the clientInstructionId was reused and the answer is the first instruction registered
  with it; it is used only when its instructionSetId (or instructionId) is the row's, else the history's
  status is kept (the reference's "reconcile using instructionSetId");
- 422 on the query: a business error. IBKR takes one query per account at a time, so another process's
  query still running is answered so (a guess from [am-ref-zh]'s "no new queries before this one is
  processed"): the fetch asks again after a pause until its deadline, then leaves the account out with
  one warning line (its rows stay as landed).

The connector never creates or cancels an instruction: the only POST is the query, itself an instruction
IBKR records. Its clientInstructionId is a fresh number per request (guess: IBKR's creation endpoints want
one unique per client; a reused one would only make its polling answer 208).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import polars as pl

from ibkr_pipelines.client.am_client import AccountManagementClient
from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.errors import ConfigError, ProblemAnswer, TransientError
from ibkr_pipelines.extract.common import as_date, as_float, as_int, as_str, extra_json, rows_to_frame

TABLE = "funding_instructions"
QUERY_TYPE = "QUERY_RECENT_INSTRUCTIONS"  # reference §3.4
HISTORY_DAYS = 30  # reference §3.4: historyMaxDepthNumberOfDays
PROCESSED, REJECTED = "PROCESSED", "REJECTED"
TERMINAL = frozenset({PROCESSED, REJECTED})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryWait:
    """How a fetch waits for an asynchronous query: a growing pause, under a deadline (IBKR: about a minute)."""

    first_pause: float = 1.0
    growth: float = 2.0
    max_pause: float = 15.0
    deadline_seconds: float = 180.0

    def pauses(self) -> "itertools.accumulate[float]":
        """first_pause, then each pause ``growth`` times the last, capped at ``max_pause``."""
        return itertools.accumulate(itertools.repeat(self.first_pause),
                                    lambda last, _: min(last * self.growth, self.max_pause))


_IDS_LOCK = threading.Lock()
_LAST_ID = [0]


def next_client_instruction_id() -> int:
    """A fresh clientInstructionId for a query: milliseconds of the wall clock, strictly increasing in the process."""
    with _IDS_LOCK:
        candidate = time.time_ns() // 1_000_000 % 1_000_000_000_000
        _LAST_ID[0] = max(candidate, _LAST_ID[0] + 1)
        return _LAST_ID[0]


def query_body(account_id: str, client_instruction_id: int, days: int = HISTORY_DAYS) -> dict[str, Any]:
    """The QUERY_RECENT_INSTRUCTIONS request for one account (reference §3.4 envelope)."""
    return {"instructionType": QUERY_TYPE,
            "instruction": {"clientInstructionId": client_instruction_id, "accountId": account_id,
                            "transactionHistory": {"daysToGoBack": days, "transactionType": "ALL"}}}


_AM_CLIENTS: "weakref.WeakKeyDictionary[Any, AccountManagementClient]" = weakref.WeakKeyDictionary()
_AM_LOCK = threading.Lock()


def am_client_of(client: ApiClient) -> AccountManagementClient:
    """The login's Account Management client (one per client, so its access token is bought once); one line when none."""
    owner: Any = getattr(client, "wrapped", client)  # a fetch's wrapper (reuse.ReusingClient) shares its client's
    if isinstance(owner, AccountManagementClient):
        return owner
    if not hasattr(owner, "account_management"):
        raise ConfigError("IBKR_AUTH", "funding instructions come from IBKR's Account Management API, which takes an "
                                       "OAuth 2.0 login (IBKR_AUTH=oauth2) with the scope instructions.read")
    with _AM_LOCK:
        found = _AM_CLIENTS.get(owner)
        if found is None:
            found = _AM_CLIENTS[owner] = owner.account_management()
        return found


def _result(answer: Any) -> Mapping[str, Any]:
    """The ``instructionResult`` of an envelope (empty when there is none)."""
    result = answer.get("instructionResult") if isinstance(answer, Mapping) else None
    return result if isinstance(result, Mapping) else {}


def poll(am: AccountManagementClient, instruction_id: int | None, client_instruction_id: int | None = None,
         instruction_set_id: int | None = None) -> Mapping[str, Any] | None:
    """One instruction's ``instructionResult`` now, by instructionId (else clientInstructionId); None when unknown (404)
    or when a reused clientInstructionId (208) answers another instruction set's."""
    path = (f"/instructions/{instruction_id}" if instruction_id is not None
            else f"/client-instructions/{client_instruction_id}")
    try:
        answer = am.get(path)
    except ProblemAnswer as problem:
        if problem.status == 404:
            log.warning("Account Management does not know %s (404): the history's status is kept", path)
            return None
        raise
    result = _result(answer)
    reused = isinstance(answer, Mapping) and answer.get("status") == 208
    same = ((instruction_id is None or as_int(result.get("instructionId")) == instruction_id)
            and (not reused or instruction_set_id is None
                 or as_int(answer.get("instructionSetId")) == instruction_set_id))
    if not same:
        log.warning("%s answered another instruction (clientInstructionId reused, HTTP 208; instructionSetId %s, "
                    "not %s): the history's status is kept", path, answer.get("instructionSetId"), instruction_set_id)
        return None
    return result


def recent_instructions(am: AccountManagementClient, account_id: str, *, wait: QueryWait = QueryWait(),
                        sleep: Callable[[float], None] = time.sleep,
                        monotonic: Callable[[], float] = time.monotonic) -> list[Mapping[str, Any]] | None:
    """The account's recent instructions (``instructionHistory.result``): query (202), then poll the query until
    PROCESSED; None when IBKR kept refusing the query (422) until the deadline."""
    deadline = monotonic() + wait.deadline_seconds
    pauses = iter(wait.pauses())
    while True:
        try:
            accepted = am.post("/instructions/query", json=query_body(account_id, next_client_instruction_id()))
            break
        except ProblemAnswer as problem:
            pause = next(pauses)
            if problem.status != 422:
                raise
            if monotonic() + pause > deadline:
                log.warning("funding: %s left out: Account Management refused its recent-instructions query until "
                            "the deadline: %s", account_id, problem)
                return None
            log.info("funding: query for %s refused (%s); asking again in %.0f s", account_id, problem, pause)
            sleep(pause)
    result = _result(accepted)
    query_id = as_int(result.get("instructionId"))
    pauses = iter(wait.pauses())
    while not isinstance(result.get("instructionHistory"), Mapping):
        status = result.get("instructionStatus")
        if status == REJECTED or query_id is None:
            error = result.get("error") if isinstance(result.get("error"), Mapping) else {}
            raise ProblemAnswer(f"Account Management rejected the recent-instructions query for {account_id}: "
                                f"{error.get('errorCode', '')} {error.get('errorMessage', status)}".strip(),
                                endpoint="POST /instructions/query")
        pause = next(pauses)
        if monotonic() + pause > deadline:
            raise TransientError(f"the recent-instructions query {query_id} for {account_id} was still {status} after "
                                 f"{wait.deadline_seconds:.0f} s", endpoint="GET /instructions/{n}")
        sleep(pause)
        result = poll(am, query_id) or {}
    history = result["instructionHistory"]
    rows = history.get("result")
    return [r for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []


_HOURS_ONLY = re.compile(r"([+-]\d\d)$")


def instant(value: Any) -> dt.datetime | None:
    """A UTC instant from IBKR's ``requestDate`` ("2025-11-05T00:20:06-05", an hours-only offset) or an RFC 3339
    ``processedTimestamp``; None when it does not parse or names no zone."""
    text = as_str(value)
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(_HOURS_ONLY.sub(r"\1:00", text.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc) if parsed.tzinfo is not None else None


_HISTORY_KEYS = ("ibInstructionId", "clientInstructionId", "instructionSetId", "instructionType", "amount",
                 "currency", "requestDate", "status")
_POLL_KEYS = ("instructionId", "clientInstructionId", "instructionType", "instructionStatus", "ibReferenceId",
              "processedTimestamp", "error")


def instruction_row(history_row: Mapping[str, Any], polled: Mapping[str, Any] | None, account_id: str,
                    observed: dt.date) -> dict[str, Any]:
    """One `funding_instructions` row: the history's row, with a poll's terminal status, time, reference and reason."""
    polled = polled or {}
    status = as_str(history_row.get("status"))
    polled_status = as_str(polled.get("instructionStatus"))
    if polled_status in TERMINAL or status is None:
        status = polled_status  # a poll is newer; PENDING_VERIFICATION (history only) is finer than a polled PENDING
    error = polled.get("error") if isinstance(polled.get("error"), Mapping) else {}
    extra = {k: v for k, v in history_row.items() if k not in _HISTORY_KEYS}
    extra |= {f"polled.{k}": v for k, v in polled.items() if k not in _POLL_KEYS}
    requested = history_row.get("requestDate")
    if requested not in (None, "") and instant(requested) is None:
        extra["requestDate"] = requested
    terminal = status in TERMINAL
    return {
        "instruction_id": as_int(history_row.get("ibInstructionId")) or as_int(polled.get("instructionId")),
        "account_id": account_id,
        "status": status,
        "first_observed_date": observed,
        "last_observed_date": observed,
        "client_instruction_id": as_int(history_row.get("clientInstructionId")),
        "instruction_set_id": as_int(history_row.get("instructionSetId")),
        "instruction_type": as_str(history_row.get("instructionType")) or as_str(polled.get("instructionType")),
        "amount": as_float(history_row.get("amount")),
        "currency": as_str(history_row.get("currency")),
        "requested_at": instant(requested),
        "resolved_at": instant(polled.get("processedTimestamp")) if terminal else None,
        "ib_reference_id": as_int(polled.get("ibReferenceId")) if status == PROCESSED else None,
        "reject_code": as_str(error.get("errorCode")) if status == REJECTED else None,
        "reject_reason": as_str(error.get("errorMessage")) if status == REJECTED else None,
        "raw_extra": extra_json(extra),
    }


def needs_poll(history_row: Mapping[str, Any]) -> bool:
    """Whether a history row is polled: still pending (its status may have moved), or rejected (for the reason)."""
    return history_row.get("status") not in (PROCESSED,)


def fetch_funding(client: ApiClient, account_id: str, *, observed: dt.date | str,
                  wait: QueryWait = QueryWait()) -> pl.DataFrame | None:
    """One account's `funding_instructions` rows as observed now; None when its query was refused to the deadline."""
    am = am_client_of(client)
    history = recent_instructions(am, account_id, wait=wait)
    if history is None:
        return None
    day = as_date(observed)
    rows = []
    for row in history:
        polled = None
        if needs_poll(row):
            polled = poll(am, as_int(row.get("ibInstructionId")), as_int(row.get("clientInstructionId")),
                          as_int(row.get("instructionSetId")))
        rows.append(instruction_row(row, polled, account_id, day))
    return rows_to_frame(TABLE, rows)
