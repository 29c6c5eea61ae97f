"""The Account Management funding endpoints a read-only client polls (reference §3.4), scope instructions.read.

- ``POST /instructions/query`` (QUERY_RECENT_INSTRUCTIONS for one account, up to 30 days back): 202 and
  a PENDING query instruction; polled by its instructionId (or clientInstructionId) it is PROCESSED with
  ``instructionHistory`` after a moment ([am-ref-zh] example; funding_desk.py). Body as plain JSON or as
  ``application/jwt`` signed with the client's registered key (am_body.request_object).
- ``GET /instructions/{instructionId}`` and ``GET /client-instructions/{clientInstructionId}``: one
  instruction's status at the simulated now; a clientInstructionId registered twice answers 208 with the
  first registered ([am-ref-zh]: "reconcile on instructionSetId"; reference §3.4). An instructionId is
  IBKR's and unique, so it never answers 208 here.
- ``GET /instruction-sets/{instructionSetId}``: every instruction of a set (the programme's internal
  transfers come two to a set).

Unknown ids: 404 problem+json (reference §3.4). Before a handler runs the server checks the access token
and scope (oauth2_gate), the AM limits and the banking row of the downtime table on the simulated clock
(am_guard.py, ``downtime=BANKING``: 429, 503). A body that is neither JSON nor a verified JWS is
am_body's refusal; a query whose body does not fit the schema is 400 with ``invalidArguments`` (the
endpoint's documented 400); one the schema allows but IBKR would refuse (an account the login does not
have, a query while the account's previous one is pending) is 422 with an ``instructionResult`` error
(reference §3.4: business errors are 422). Refusals are raised as am_body.AmRefusal and counted in
``stats()["account_management"]["refusals"]``. guess: ``daysToGoBack`` over 30 is served as 30 (the
answer states its depth). Every detail and error text here is ours (guess).
"""

from __future__ import annotations

import datetime
from typing import Any

from ibkr_pipelines.simulator.am_body import AmRefusal, refusal, request_object
from ibkr_pipelines.simulator.am_downtime import BANKING
from ibkr_pipelines.simulator.am_routes import AmRequest, am_route
from ibkr_pipelines.simulator.api import Reply
from ibkr_pipelines.simulator.funding_desk import Query
from ibkr_pipelines.simulator.funding_payloads import (
    HISTORY_DAYS,
    QUERY_TYPE,
    envelope,
    history,
    history_row,
    instruction_result,
    query_result,
)
from ibkr_pipelines.simulator.funding_program import REJECTED, Instruction

SCOPE = "instructions.read"  # reference §3.1 ("polling instructions"); [am-ref-zh]: the query needs it too
ANSWERED_208 = "answered_208"  # stats()["account_management"]: a reused clientInstructionId answered
# [am-ref-zh] QueryRecentInstructionsTransactionHistory.transactionType
TRANSACTION_TYPES = frozenset({
    "ALL", "ACH_INSTRUCTION", "PREDEFINED_DESTINATION_INSTRUCTION", "WITHDRAWAL", "DEPOSIT", "DWAC", "FOP",
    "EDDA_INSTRUCTION", "TRADITIONAL_BANK_INSTRUCTION_VERIFICATION", "CANCEL_INSTRUCTION", "DELETE_BANK_INSTRUCTION",
    "EXTERNAL_POSITION_TRANSFER", "INTERNAL_CASH_TRANSFER", "INTERNAL_POSITION_TRANSFER", "COMPLEX_ASSET_TRANSFER",
})


def _visible(req: AmRequest) -> tuple[datetime.datetime, list[Instruction]]:
    """The simulated now and every funding instruction requested by then."""
    now = req.sim.clock.now()  # read before the world: a world installed later covers this date too
    return now, [i for i in req.sim.api.state.world.funding if i.requested <= now]


def _number(text: str) -> int | None:
    """A path id as a number, or None (then nothing has that id)."""
    return int(text) if text.isdigit() else None


def _query_envelope(q: Query, wall: float) -> dict[str, Any]:
    """A query instruction polled at wall second ``wall``."""
    return envelope(200, q.instruction_set_id,
                    query_result(q.client_instruction_id, q.instruction_id, q.history if q.done(wall) else None))


# -- the polling endpoints --
@am_route("GET", r"/instructions/(?P<id>[^/]+)", SCOPE, downtime=BANKING)
def _by_instruction_id(req: AmRequest) -> Reply:
    """One instruction by IBKR's instructionId (reference §3.4)."""
    iid = _number(req.match["id"])
    now, funding = _visible(req)
    for i in funding:
        if i.instruction_id == iid:
            return Reply(200, envelope(200, i.instruction_set_id, instruction_result(i, now)))
    for q in req.sim.funding.queries():
        if q.instruction_id == iid:
            return Reply(200, _query_envelope(q, req.now))
    raise refusal("not_found", 404, f"no instruction with instructionId {req.match['id']}")


@am_route("GET", r"/client-instructions/(?P<id>[^/]+)", SCOPE, downtime=BANKING)
def _by_client_instruction_id(req: AmRequest) -> Reply:
    """One instruction by the clientInstructionId its creator gave; 208 when that id was given twice (§3.4)."""
    cid = _number(req.match["id"])
    now, funding = _visible(req)
    found: list[tuple[datetime.datetime, int, dict[str, Any]]] = []
    for i in funding:
        if i.client_instruction_id == cid:
            found.append((i.requested, i.instruction_id,
                          envelope(200, i.instruction_set_id, instruction_result(i, now))))
    for q in req.sim.funding.queries():
        if q.client_instruction_id == cid:
            found.append((q.requested, q.instruction_id, _query_envelope(q, req.now)))
    if not found:
        raise refusal("not_found", 404, f"no instruction with clientInstructionId {req.match['id']}")
    first = min(found, key=lambda f: (f[0], f[1]))[2]
    if len(found) == 1:
        return Reply(200, first)
    req.sim.am.count(ANSWERED_208)
    return Reply(208, first | {"status": 208})  # [am-ref-zh]: the first registered; reconcile on the set


@am_route("GET", r"/instruction-sets/(?P<id>[^/]+)", SCOPE, downtime=BANKING)
def _by_instruction_set_id(req: AmRequest) -> Reply:
    """Every instruction of one instruction set (reference §3.4; guess: one envelope per instruction)."""
    sid = _number(req.match["id"])
    now, funding = _visible(req)
    results = [envelope(200, i.instruction_set_id, instruction_result(i, now, show_verification=True))
               for i in funding if i.instruction_set_id == sid]
    results += [_query_envelope(q, req.now) for q in req.sim.funding.queries() if q.instruction_set_id == sid]
    if not results:
        raise refusal("not_found", 404, f"no instruction set {req.match['id']}", instructionSetId=sid or 0)
    return Reply(200, {"status": 200, "instructionSetId": sid, "instructionResults": results})


# -- the recent-instructions query --
def _invalid(body: dict[str, Any]) -> tuple[list[tuple[str, str]], tuple[int, str, int, str]]:
    """(invalidArguments, (clientInstructionId, accountId, daysToGoBack, transactionType)) of a query object."""
    bad: list[tuple[str, str]] = []

    def need(ok: bool, field: str, description: str) -> bool:
        if not ok:
            bad.append((field, description))
        return ok

    need(body.get("instructionType") == QUERY_TYPE, "instructionType", f"must be {QUERY_TYPE}")
    inner = body.get("instruction")
    need(isinstance(inner, dict), "instruction", "an object is required")
    inner = inner if isinstance(inner, dict) else {}
    cid = inner.get("clientInstructionId")
    cid_ok = need(_positive_whole(cid), "instruction.clientInstructionId", "a positive number is required")
    account = inner.get("accountId")
    need(isinstance(account, str) and bool(account.strip()), "instruction.accountId", "an account id is required")
    history_filter = inner.get("transactionHistory")
    need(isinstance(history_filter, dict), "instruction.transactionHistory", "an object is required")
    history_filter = history_filter if isinstance(history_filter, dict) else {}
    days = history_filter.get("daysToGoBack")
    days_ok = need(_positive_whole(days), "instruction.transactionHistory.daysToGoBack",
                   "a positive number of days is required")
    kind = history_filter.get("transactionType", "ALL")
    need(kind in TRANSACTION_TYPES, "instruction.transactionHistory.transactionType",
         "must be one of " + ", ".join(sorted(TRANSACTION_TYPES)))
    return bad, (int(cid) if cid_ok else 0, str(account or "").strip(),
                 min(int(days), HISTORY_DAYS) if days_ok else 0, str(kind))


def _positive_whole(x: Any) -> bool:
    """Whether ``x`` is a JSON number (not a boolean) that is a whole number above zero."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 and float(x).is_integer()


def _business_error(req: AmRequest, cid: int, code: str, message: str, pending: Query | None = None) -> AmRefusal:
    """422 with a rejected QUERY_RECENT_INSTRUCTIONS result (reference §3.4 business error), counted as ``code``."""
    iid, sid = req.sim.funding.reserve()
    if pending is not None:
        iid, sid = pending.instruction_id, pending.instruction_set_id
    result = {"clientInstructionId": cid, "instructionType": QUERY_TYPE, "instructionStatus": REJECTED,
              "instructionId": iid, "error": {"errorCode": code, "errorMessage": message}}
    return refusal(code.lower(), 422, message, instructionSetId=sid, instructionResult=result)


@am_route("POST", r"/instructions/query", SCOPE, downtime=BANKING)
def _recent_instructions(req: AmRequest) -> Reply:
    """QUERY_RECENT_INSTRUCTIONS: accept the query (202, PENDING); its history is read at the simulated now."""
    bad, (cid, account, days, kind) = _invalid(request_object(req))
    if bad:
        raise refusal("invalid_request", 400, "the query does not fit QueryRecentInstructions", bad)
    world = req.sim.api.state.world
    if world.account(account) is None:
        raise _business_error(req, cid, "INVALID_ACCOUNT", f"account {account} is not an account of this login")
    pending = req.sim.funding.open_query(req.client_id, account, req.now)
    if pending is not None:
        raise _business_error(req, cid, "QUERY_IN_PROGRESS",
                              f"the query {pending.instruction_id} on {account} is still being processed",
                              pending)
    now, funding = _visible(req)
    since = now - datetime.timedelta(days=days)
    rows = [history_row(i, now) for i in reversed(funding)
            if account in i.accounts and i.requested >= since and kind in ("ALL", i.type)]
    q = req.sim.funding.make_query(req.client_id, cid, account, now, req.now, history(rows))
    return Reply(202, envelope(202, q.instruction_set_id, query_result(cid, q.instruction_id, None)))
