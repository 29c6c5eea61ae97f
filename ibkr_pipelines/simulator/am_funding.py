"""The Account Management funding endpoints a read-only client polls (reference §3.4), scope instructions.read.

- ``POST /instructions/query`` (QUERY_RECENT_INSTRUCTIONS for one account, up to 30 days back): 202 and
  a PENDING query instruction; polled by its instructionId (or clientInstructionId) it is PROCESSED with
  ``instructionHistory`` after a moment ([am-ref-zh] example; funding_desk.py). Body as plain JSON or as
  ``application/jwt`` signed with the client's registered key (reference §3.1: accept both).
- ``GET /instructions/{instructionId}`` and ``GET /client-instructions/{clientInstructionId}``: one
  instruction's status at the simulated now; a clientInstructionId registered twice answers 208 with the
  first registered ([am-ref-zh]: "reconcile on instructionSetId"; reference §3.4). An instructionId is
  IBKR's and unique, so it never answers 208 here.
- ``GET /instruction-sets/{instructionSetId}``: every instruction of a set (the programme's internal
  transfers come two to a set).

Unknown ids: 404 problem+json (reference §3.4). Checks, in order: the access token and scope (server,
oauth2_gate), then the limits (am_limits.py: 429), then the banking downtime on the simulated clock
(banking_hours.py; guess: 503 problem+json naming the window and when it ends), then the request.
A query whose body does not fit the schema is 400 with ``invalidArguments`` (the endpoint's documented
400); one the schema allows but IBKR would refuse (an account the login does not have, a query while
the account's previous one is pending) is 422 with an ``instructionResult`` error (reference §3.4:
business errors are 422). guess: ``daysToGoBack`` over 30 is served as 30 (the answer states its depth);
a JWS whose signature fails is 401. Every detail and error text here is ours (guess).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from ibkr_pipelines.simulator.am_routes import AmRequest, am_route
from ibkr_pipelines.simulator.api import Reply
from ibkr_pipelines.simulator.banking_hours import banking_downtime
from ibkr_pipelines.simulator.funding_desk import ANSWERED_208, Query
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
from ibkr_pipelines.simulator.oauth2 import ALGORITHM, read_jws, signature_valid
from ibkr_pipelines.simulator.oauth2_gate import problem

SCOPE = "instructions.read"  # reference §3.1 ("polling instructions"); [am-ref-zh]: the query needs it too
QUERY = "POST /instructions/query"
BY_ID = "GET /instructions/{instructionId}"
BY_CLIENT_ID = "GET /client-instructions/{clientInstructionId}"
BY_SET = "GET /instruction-sets/{instructionSetId}"
# [am-ref-zh] QueryRecentInstructionsTransactionHistory.transactionType
TRANSACTION_TYPES = frozenset({
    "ALL", "ACH_INSTRUCTION", "PREDEFINED_DESTINATION_INSTRUCTION", "WITHDRAWAL", "DEPOSIT", "DWAC", "FOP",
    "EDDA_INSTRUCTION", "TRADITIONAL_BANK_INSTRUCTION_VERIFICATION", "CANCEL_INSTRUCTION", "DELETE_BANK_INSTRUCTION",
    "EXTERNAL_POSITION_TRANSFER", "INTERNAL_CASH_TRANSFER", "INTERNAL_POSITION_TRANSFER", "COMPLEX_ASSET_TRANSFER",
})


def _problem(status: int, detail: str, **extra: Any) -> Reply:
    """problem+json (oauth2_gate.problem) with extra members (invalidArguments, instructionSetId...)."""
    reply = problem(status, detail)
    reply.body.update(extra)
    return reply


def _guard(req: AmRequest, endpoint: str) -> Reply | None:
    """Count the request; 429 over the limits, 503 in the banking downtime; None to answer it."""
    sim = req.sim
    sim.funding.count("requests", endpoint)
    if sim.am_limits.throttled(req.client_id, endpoint, req.now):
        sim.funding.count("throttled")
        return _problem(429, "Too many requests: Account Management allows 10 per second per endpoint and "
                             "600 per minute per master account")  # reference §3.1; text: guess
    down = banking_downtime(sim.clock.now())
    if down is not None:
        sim.funding.count("downtime")
        window, back = down
        return _problem(503, f"Banking endpoints are in their scheduled downtime ({window}); "
                             f"available again at {back.isoformat(timespec='minutes')}")
    return None


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
@am_route("GET", r"/instructions/(?P<id>[^/]+)", SCOPE)
def _by_instruction_id(req: AmRequest) -> Reply:
    """One instruction by IBKR's instructionId (reference §3.4)."""
    refused = _guard(req, BY_ID)
    if refused is not None:
        return refused
    iid = _number(req.match["id"])
    now, funding = _visible(req)
    for i in funding:
        if i.instruction_id == iid:
            return Reply(200, envelope(200, i.instruction_set_id, instruction_result(i, now)))
    for q in req.sim.funding.queries():
        if q.instruction_id == iid:
            return Reply(200, _query_envelope(q, req.now))
    req.sim.funding.count("not_found")
    return _problem(404, f"no instruction with instructionId {req.match['id']}")


@am_route("GET", r"/client-instructions/(?P<id>[^/]+)", SCOPE)
def _by_client_instruction_id(req: AmRequest) -> Reply:
    """One instruction by the clientInstructionId its creator gave; 208 when that id was given twice (§3.4)."""
    refused = _guard(req, BY_CLIENT_ID)
    if refused is not None:
        return refused
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
        req.sim.funding.count("not_found")
        return _problem(404, f"no instruction with clientInstructionId {req.match['id']}")
    first = min(found, key=lambda f: (f[0], f[1]))[2]
    if len(found) == 1:
        return Reply(200, first)
    req.sim.funding.count(ANSWERED_208)
    return Reply(208, first | {"status": 208})  # [am-ref-zh]: the first registered; reconcile on the set


@am_route("GET", r"/instruction-sets/(?P<id>[^/]+)", SCOPE)
def _by_instruction_set_id(req: AmRequest) -> Reply:
    """Every instruction of one instruction set (reference §3.4; guess: one envelope per instruction)."""
    refused = _guard(req, BY_SET)
    if refused is not None:
        return refused
    sid = _number(req.match["id"])
    now, funding = _visible(req)
    results = [envelope(200, i.instruction_set_id, instruction_result(i, now, show_verification=True))
               for i in funding if i.instruction_set_id == sid]
    results += [_query_envelope(q, req.now) for q in req.sim.funding.queries() if q.instruction_set_id == sid]
    if not results:
        req.sim.funding.count("not_found")
        return _problem(404, f"no instruction set {req.match['id']}", instructionSetId=sid or 0)
    return Reply(200, {"status": 200, "instructionSetId": sid, "instructionResults": results})


# -- the recent-instructions query --
def _payload(req: AmRequest) -> tuple[Any, Reply | None]:
    """The request object: plain JSON, or the claims of a JWS signed with the client's key (reference §3.1)."""
    media = (req.content_type or "").split(";")[0].strip().lower()
    try:
        if media != "application/jwt":
            return json.loads(req.body), None
        text = req.body.decode("ascii").strip()
        header, claims = read_jws(text)
    except (ValueError, UnicodeDecodeError):
        return None, _problem(400, "the body is neither JSON nor a compact JWS",
                              invalidArguments=[{"field": "body", "description": "unreadable"}])
    client = req.sim.oauth2.clients().get(req.client_id)
    if client is None or header.get("alg") != ALGORITHM or not signature_valid(text, client.public_key()):
        return None, _problem(401, "the body's JWS signature does not verify with the client's registered key")
    return claims, None


def _invalid(data: Any) -> tuple[list[dict[str, str]], tuple[int, str, int, str]]:
    """(invalidArguments, (clientInstructionId, accountId, daysToGoBack, transactionType)) of a query object."""
    bad: list[dict[str, str]] = []

    def need(ok: bool, field: str, description: str) -> bool:
        if not ok:
            bad.append({"field": field, "description": description})
        return ok

    body = data if isinstance(data, dict) else {}
    need(isinstance(data, dict), "body", "a JSON object is required")
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


def _business_error(req: AmRequest, cid: int, code: str, message: str, pending: Query | None = None) -> Reply:
    """422 with a rejected QUERY_RECENT_INSTRUCTIONS result (reference §3.4 business error)."""
    iid, sid = req.sim.funding.reserve()
    if pending is not None:
        iid, sid = pending.instruction_id, pending.instruction_set_id
    req.sim.funding.count(code.lower())
    result = {"clientInstructionId": cid, "instructionType": QUERY_TYPE, "instructionStatus": REJECTED,
              "instructionId": iid, "error": {"errorCode": code, "errorMessage": message}}
    return _problem(422, message, instructionSetId=sid, instructionResult=result)


@am_route("POST", r"/instructions/query", SCOPE)
def _recent_instructions(req: AmRequest) -> Reply:
    """QUERY_RECENT_INSTRUCTIONS: accept the query (202, PENDING); its history is read at the simulated now."""
    refused = _guard(req, QUERY)
    if refused is not None:
        return refused
    data, unreadable = _payload(req)
    if unreadable is not None:
        req.sim.funding.count("malformed")
        return unreadable
    bad, (cid, account, days, kind) = _invalid(data)
    if bad:
        req.sim.funding.count("malformed")
        return _problem(400, "the query does not fit QueryRecentInstructions", invalidArguments=bad)
    world = req.sim.api.state.world
    if world.account(account) is None:
        return _business_error(req, cid, "INVALID_ACCOUNT", f"account {account} is not an account of this login")
    pending = req.sim.funding.open_query(req.client_id, account, req.now)
    if pending is not None:
        return _business_error(req, cid, "QUERY_IN_PROGRESS",
                               f"the query {pending.instruction_id} on {account} is still being processed",
                               pending)
    now, funding = _visible(req)
    since = now - datetime.timedelta(days=days)
    rows = [history_row(i, now) for i in reversed(funding)
            if account in i.accounts and i.requested >= since and kind in ("ALL", i.type)]
    q = req.sim.funding.make_query(req.client_id, cid, account, now, req.now, history(rows))
    return Reply(202, envelope(202, q.instruction_set_id, query_result(cid, q.instruction_id, None)))
