"""Bodies of the funding endpoints (reference §3.4): polling results, history rows, instruction sets, queries.

Shapes follow reference §3.4 and the endpoint pages it cites ([am-ref-zh]): every answer is the envelope
``{"status", "instructionSetId", "instructionResult"}``; a set is ``instructionResults``, one envelope per
instruction (guess: the shape the bulk requests answer, §3.4); the recent-instructions history is
``instructionHistory{historyMaxDepthNumberOfDays, historyMaxDepthNumberOfInstruction, result[...]}`` with
``requestDate`` in New York time and an hours-only offset ("2025-11-04T02:24:34-05", the reference's form).

The polling endpoints' status enum holds PENDING, PROCESSED and REJECTED only ([am-ref-zh]
PollingInstructionResult), so an instruction waiting for its bank instruction's verification polls as
PENDING with a description, while the history and the instruction sets (whose enum has it) show
PENDING_VERIFICATION: a reading of the two enums, a guess. Also guesses: ``processedTimestamp`` as
RFC 3339 in New York time; ``depositDetails`` {amount, currency, whenAvailable once processed} on
deposits (documented, though the examples omit it); every ``description`` text.
"""

from __future__ import annotations

import datetime
from typing import Any

from ibkr_pipelines.simulator.clock import NEW_YORK
from ibkr_pipelines.simulator.funding_program import DEPOSIT, PENDING, PROCESSED, REJECTED, VERIFYING, Instruction

QUERY_TYPE = "QUERY_RECENT_INSTRUCTIONS"  # reference §3.4
HISTORY_DAYS = 30  # reference §3.4: historyMaxDepthNumberOfDays
HISTORY_INSTRUCTIONS = 100_000  # reference §3.4: historyMaxDepthNumberOfInstruction
_VERIFYING_TEXT = "Waiting for the verification of the bank instruction"  # guess
# Paraphrase of the 202 answer's description in [am-ref-zh]'s example (poll about a minute later; one query
# at a time).
QUERY_PENDING_TEXT = ("Query is being processed. Poll its status with the instruction status endpoints "
                      "about a minute later. No new query is accepted before this one is processed")


def request_date(t: datetime.datetime) -> str:
    """An instant as the history writes ``requestDate``: New York wall time and an hours-only offset."""
    local = t.astimezone(NEW_YORK)
    offset = local.utcoffset() or datetime.timedelta()
    hours = int(offset.total_seconds() // 3600)
    return f"{local.strftime('%Y-%m-%dT%H:%M:%S')}{'-' if hours < 0 else '+'}{abs(hours):02d}"


def timestamp(t: datetime.datetime) -> str:
    """An instant as ``processedTimestamp`` (guess: RFC 3339, New York time)."""
    return t.astimezone(NEW_YORK).isoformat(timespec="seconds")


def envelope(status: int, instruction_set_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """``{"status", "instructionSetId", "instructionResult"}`` (reference §3.4)."""
    return {"status": status, "instructionSetId": instruction_set_id, "instructionResult": result}


def instruction_result(i: Instruction, t: datetime.datetime, *, show_verification: bool = False) -> dict[str, Any]:
    """The ``instructionResult`` of a funding instruction at instant ``t`` (it must be requested by then)."""
    status = i.status_at(t) or PENDING
    out: dict[str, Any] = {"clientInstructionId": i.client_instruction_id, "instructionType": i.type,
                           "instructionStatus": status if show_verification or status != VERIFYING else PENDING,
                           "instructionId": i.instruction_id}
    if status == VERIFYING:
        out["description"] = _VERIFYING_TEXT
    if status == PROCESSED:
        out["ibReferenceId"] = i.ib_reference_id
    if status in (PROCESSED, REJECTED):
        out["processedTimestamp"] = timestamp(i.resolved)
    if status == REJECTED and i.error is not None:
        out["error"] = {"errorCode": i.error[0], "errorMessage": i.error[1]}
    if i.type == DEPOSIT:
        details: dict[str, Any] = {"amount": i.amount, "currency": i.currency}
        if status == PROCESSED and i.settle_date is not None:
            details["whenAvailable"] = i.settle_date.isoformat()
        out["depositDetails"] = details
    return out


def history_row(i: Instruction, t: datetime.datetime) -> dict[str, Any]:
    """One ``instructionHistory.result`` row: the instruction as it stands at ``t`` (reference §3.4)."""
    return {"amount": i.amount, "clientInstructionId": i.client_instruction_id, "currency": i.currency,
            "ibInstructionId": i.instruction_id, "instructionSetId": i.instruction_set_id,
            "instructionType": i.type, "requestDate": request_date(i.requested), "status": i.status_at(t)}


def history(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``instructionHistory`` around the rows (reference §3.4's depths)."""
    return {"historyMaxDepthNumberOfDays": HISTORY_DAYS, "historyMaxDepthNumberOfInstruction": HISTORY_INSTRUCTIONS,
            "result": rows[:HISTORY_INSTRUCTIONS]}


def query_result(client_instruction_id: int, instruction_id: int, done: dict[str, Any] | None) -> dict[str, Any]:
    """A query's ``instructionResult``: PENDING with its description, or PROCESSED with ``done`` (its history)."""
    out: dict[str, Any] = {"clientInstructionId": client_instruction_id, "instructionType": QUERY_TYPE,
                           "instructionId": instruction_id, "ibReferenceId": 0}  # [am-ref-zh] examples: 0
    if done is None:
        out |= {"instructionStatus": PENDING, "description": QUERY_PENDING_TEXT, "code": PENDING}
    else:
        out |= {"instructionStatus": PROCESSED, "instructionHistory": done}
    return out
