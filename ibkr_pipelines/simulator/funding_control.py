"""The test control ``POST /sim/funding``: add one funding instruction, requested at the simulated now.

Not IBKR: IBKR's API creates instructions through ``external-cash-transfers`` and ``internal-cash-transfers``
(reference §3.4), which a read-only connector never calls; this control lets a test put an instruction
where it needs one. Body (JSON):

- ``account`` (required), ``type``: DEPOSIT (default), WITHDRAWAL or INTERNAL_CASH_TRANSFER (then
  ``target``, another of the login's accounts), ``amount`` (> 0), ``currency`` (default: the account's);
- when it ends: ``settle_after_seconds`` (simulated seconds after now) or ``settle_date`` (YYYY-MM-DD, at
  noon New York time); default the next business day at noon, or at once for an internal transfer;
- ``outcome``: PROCESSED (default) or REJECTED; ``verify_seconds``: PENDING_VERIFICATION that long first;
- ``method``: WIRE (default) or ACH; ``client_instruction_id`` (default: a fresh one; reuse one for a 208).
"""

from __future__ import annotations

import datetime
from typing import Any

from ibkr_pipelines.simulator.clock import NEW_YORK, business_day_after
from ibkr_pipelines.simulator.funding_program import (
    DEPOSIT,
    INTERNAL,
    OUTCOMES,
    PROCESSED,
    REJECTED,
    TYPES,
    Instruction,
)
from ibkr_pipelines.simulator.world import World

_REJECTED = ("REJECTED_BY_TEST", "Rejected as the test asked")  # the control's own text: not IBKR's


def _next_business_noon(t: datetime.datetime) -> datetime.datetime:
    """Noon New York time on the business day after ``t``'s New York date."""
    return datetime.datetime.combine(business_day_after(t.astimezone(NEW_YORK).date()), datetime.time(12), NEW_YORK)


def _resolved(data: dict[str, Any], kind: str, now: datetime.datetime) -> datetime.datetime:
    """When the instruction ends, from ``settle_after_seconds`` or ``settle_date`` (ValueError when both or bad)."""
    after, date = data.get("settle_after_seconds"), data.get("settle_date")
    if after is not None and date is not None:
        raise ValueError("give settle_after_seconds or settle_date, not both")
    if after is not None:
        seconds = float(after)
        if seconds < 0:
            raise ValueError("settle_after_seconds must be >= 0")
        return now + datetime.timedelta(seconds=seconds)
    if date is not None:
        at = datetime.datetime.combine(datetime.date.fromisoformat(str(date)), datetime.time(12), NEW_YORK)
        if at < now:
            raise ValueError(f"settle_date {date} is before the simulated now {now.isoformat()}")
        return at
    return now if kind == INTERNAL else _next_business_noon(now)


def instruction_from(data: dict[str, Any], number: int, now: datetime.datetime, world: World) -> Instruction:
    """The instruction a ``POST /sim/funding`` body describes (the ``number``-th a test added); else ValueError."""
    unknown = set(data) - {"account", "type", "amount", "currency", "target", "method", "outcome",
                           "settle_after_seconds", "settle_date", "verify_seconds", "client_instruction_id"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    acct = world.account(str(data.get("account", "")))
    if acct is None:
        raise ValueError(f"account {data.get('account')!r} is not one of the login's accounts")
    kind = str(data.get("type", DEPOSIT))
    outcome = str(data.get("outcome", PROCESSED))
    if kind not in TYPES or outcome not in OUTCOMES:
        raise ValueError(f"type must be one of {TYPES} and outcome one of {OUTCOMES}")
    amount = round(float(data["amount"]), 2)
    if amount <= 0:
        raise ValueError("amount must be > 0")
    target = None
    if kind == INTERNAL:
        other = world.account(str(data.get("target", "")))
        if other is None or other.id == acct.id:
            raise ValueError("an internal transfer needs a target: another of the login's accounts")
        target = other.id
    method = None if kind == INTERNAL else str(data.get("method", "WIRE"))
    if method not in (None, "WIRE", "ACH"):
        raise ValueError("method must be WIRE or ACH")
    resolved = _resolved(data, kind, now)
    verify = float(data.get("verify_seconds", 0))
    verified = now + datetime.timedelta(seconds=verify) if verify > 0 else None
    if verified is not None and verified > resolved:
        raise ValueError("verify_seconds ends after the instruction is settled")
    cid = int(data.get("client_instruction_id", 8_000_000 + number))
    return Instruction(44_000_000 + number, cid, 10_000 + number, kind, acct.id, amount,
                       str(data.get("currency", acct.currency)), now, resolved, outcome, target, method, verified,
                       _REJECTED if outcome == REJECTED else None)
