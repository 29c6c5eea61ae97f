"""The login's funding instructions: deposits, withdrawals and internal cash transfers, and their lives.

An instruction (reference §3.4) is requested at an instant and ends PROCESSED or REJECTED at a later one
(an internal transfer without ``dateTimeToOccur`` is processed at once: §3.4's 201); some ACH deposits
wait in PENDING_VERIFICATION first (§3.4: bank-instruction verification). ``status_at`` reads the
status at any simulated instant, so instructions move on the simulator's clock, never on the wall's.
Only a PROCESSED instruction moves cash, on the New York date it was processed (world.py turns
``cash_legs`` into cash events, so the ledger, the summary, /pa NAV and Flex see it from that close on).

``program`` is the seed's standing programme, the same whatever the clock or the world's length:
one week at a time from FUNDING_START (a Monday), each week from its own random stream, so a longer
world repeats a shorter one's instructions and ids exactly (world.py's prefix rule). Each week:

- Monday: a WIRE deposit, processed one or two business days later;
- Tuesday: a WIRE withdrawal, rejected the next business day;
- Wednesday: an ACH deposit to a USD account, processed two business days later; every other week
  from a new bank instruction, so PENDING_VERIFICATION until the next business day's morning;
- Thursday: two internal cash transfers between USD accounts in one instruction set (a bulk request),
  processed at once;
- Friday: a WIRE withdrawal, processed the next business day; every fifth week it reuses Monday's
  clientInstructionId (the creating application reused its id: §3.4's 208 on polling).

Guesses (IBKR publishes none of this): the weekly rhythm, amounts, times of day, processing delays,
error codes and texts, id ranges, and which accounts take part (the FA clients and the individual,
never the master nor the thin ``extra_subaccounts`` clients, so adding those changes no instruction).
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from ibkr_pipelines.simulator.clock import NEW_YORK, business_day_after, new_york_date
from ibkr_pipelines.simulator.roster import Account

# The Monday of the programme's first week: the business day after the tests' usual Friday (2026-11-20),
# so its first deposit and rejected withdrawal are near that date, and every answer about it or any
# earlier date is as it was before funding instructions existed.
FUNDING_START = datetime.date(2026, 11, 23)
DEPOSIT, WITHDRAWAL, INTERNAL = "DEPOSIT", "WITHDRAWAL", "INTERNAL_CASH_TRANSFER"  # reference §3.4 enum
PENDING, VERIFYING = "PENDING", "PENDING_VERIFICATION"
PROCESSED, REJECTED = "PROCESSED", "REJECTED"
TYPES = (DEPOSIT, WITHDRAWAL, INTERNAL)
OUTCOMES = (PROCESSED, REJECTED)
# A week's ids are numbered 0..SLOTS-1 (guess: ranges near the reference's examples, §3.4).
SLOTS = 8
# guess: the reasons IBKR's Funds and Banking would give; reference §3.4 shows only the error's shape.
REJECT_WITHDRAWAL = ("INSUFFICIENT_WITHDRAWABLE_CASH", "The amount requested exceeds the cash available to withdraw")


@dataclass(frozen=True)
class Instruction:
    """One funding instruction and its whole life (instants are aware datetimes)."""

    instruction_id: int
    client_instruction_id: int
    instruction_set_id: int
    type: str  # DEPOSIT | WITHDRAWAL | INTERNAL_CASH_TRANSFER
    account: str  # the account funded or debited; the source of an internal transfer
    amount: float
    currency: str
    requested: datetime.datetime
    resolved: datetime.datetime  # when it became PROCESSED or REJECTED
    outcome: str  # PROCESSED | REJECTED
    target: str | None = None  # the receiving account of an internal transfer
    method: str | None = None  # bankInstructionMethod of a deposit or withdrawal: WIRE | ACH
    verified: datetime.datetime | None = None  # end of PENDING_VERIFICATION, when it had one
    error: tuple[str, str] | None = None  # (errorCode, errorMessage) of a rejection

    @property
    def ib_reference_id(self) -> int | None:
        """IBKR's global reference, given once processed (reference §3.4 examples; guess: a number per instruction)."""
        return 166_000_000 + self.instruction_id % 10_000_000 if self.outcome == PROCESSED else None

    @property
    def accounts(self) -> tuple[str, ...]:
        """Every account the instruction concerns (both sides of an internal transfer)."""
        return (self.account,) if self.target is None else (self.account, self.target)

    def status_at(self, t: datetime.datetime) -> str | None:
        """The status at instant ``t``; None before it was requested."""
        if t < self.requested:
            return None
        if t >= self.resolved:
            return self.outcome
        if self.verified is not None and t < self.verified:
            return VERIFYING
        return PENDING

    @property
    def settle_date(self) -> datetime.date | None:
        """The New York date the cash moves, for a processed instruction; None for a rejected one."""
        return new_york_date(self.resolved) if self.outcome == PROCESSED else None

    def cash_legs(self) -> list[tuple[str, float, str, str]]:
        """(account, signed amount, cash-event kind, text) of each cash movement once processed; [] if rejected."""
        if self.outcome != PROCESSED:
            return []
        n = self.instruction_id
        if self.type == DEPOSIT:
            return [(self.account, self.amount, "deposit", f"{self.method} deposit, instruction {n}")]
        if self.type == WITHDRAWAL:
            return [(self.account, -self.amount, "withdrawal", f"{self.method} withdrawal, instruction {n}")]
        return [(self.account, -self.amount, "transfer", f"internal transfer to {self.target}, instruction {n}"),
                (str(self.target), self.amount, "transfer", f"internal transfer from {self.account}, instruction {n}")]


def _at(d: datetime.date, rng: random.Random, first_hour: float, last_hour: float) -> datetime.datetime:
    """A New York instant on ``d`` between two hours, whole seconds, from ``rng``."""
    seconds = int(rng.uniform(first_hour, last_hour) * 3600)
    return datetime.datetime.combine(d, datetime.time(), NEW_YORK) + datetime.timedelta(seconds=seconds)


def _ids(week: int, slot: int) -> tuple[int, int, int]:
    """(instructionId, clientInstructionId, instructionSetId) of a programme slot (guess: ranges near §3.4's)."""
    n = week * SLOTS + slot
    return 43_100_000 + 37 * n, 7_100_000 + 11 * n, 3_000 + 3 * n


def _cents(x: float) -> float:
    return round(x + 0.0, 2)


def _week(seed: int, week: int, monday: datetime.date, clients: list[Account]) -> list[Instruction]:
    """The instructions requested in one week of the programme (module docstring)."""
    rng = random.Random(f"{seed}-funding-{week}")
    usd = [a for a in clients if a.currency == "USD"]
    days = [monday + datetime.timedelta(days=i) for i in range(5)]
    out: list[Instruction] = []

    def add(slot: int, kind: str, acct: Account, amount: float, requested: datetime.datetime,
            resolved: datetime.datetime, outcome: str, *, method: str | None = None, target: str | None = None,
            verified: datetime.datetime | None = None, error: tuple[str, str] | None = None,
            cid: int | None = None, sid: int | None = None) -> None:
        iid, own_cid, own_sid = _ids(week, slot)
        out.append(Instruction(iid, own_cid if cid is None else cid, own_sid if sid is None else sid, kind, acct.id,
                               _cents(amount), acct.currency, requested, resolved, outcome, target, method,
                               verified, error))

    a = rng.choice(clients)  # Monday: a wire deposit, processed one or two business days later
    t = _at(days[0], rng, 9.0, 12.0)
    add(0, DEPOSIT, a, round(a.deposit * rng.uniform(0.004, 0.012), -2), t,
        _at(business_day_after(days[0], rng.choice((1, 2))), rng, 10.0, 15.0), PROCESSED, method="WIRE")
    a = rng.choice(clients)  # Tuesday: a wire withdrawal, rejected the next business day
    t = _at(days[1], rng, 9.0, 12.0)
    add(1, WITHDRAWAL, a, round(a.deposit * rng.uniform(1.2, 2.0), -3), t,
        _at(business_day_after(days[1], 1), rng, 10.0, 15.0), REJECTED, method="WIRE", error=REJECT_WITHDRAWAL)
    a = rng.choice(usd)  # Wednesday: an ACH deposit, every other week verifying a new bank instruction first
    t = _at(days[2], rng, 9.0, 12.0)
    verified = _at(business_day_after(days[2], 1), rng, 9.0, 10.0) if week % 2 == 0 else None
    add(2, DEPOSIT, a, round(a.deposit * rng.uniform(0.002, 0.006), -2), t,
        _at(business_day_after(days[2], 2), rng, 10.0, 15.0), PROCESSED, method="ACH", verified=verified)
    t = _at(days[3], rng, 9.0, 15.0)  # Thursday: two internal transfers in one set, processed at once
    for slot in (3, 4):
        src, dst = rng.sample(usd, 2)
        add(slot, INTERNAL, src, round(src.deposit * rng.uniform(0.001, 0.004), -2), t, t, PROCESSED,
            target=dst.id, sid=_ids(week, 3)[2])
    a = rng.choice(clients)  # Friday: a wire withdrawal, processed the next business day
    t = _at(days[4], rng, 9.0, 12.0)
    add(5, WITHDRAWAL, a, round(a.deposit * rng.uniform(0.004, 0.012), -2), t,
        _at(business_day_after(days[4], 1), rng, 10.0, 15.0), PROCESSED, method="WIRE",
        cid=out[0].client_instruction_id if week % 5 == 4 else None)
    return out


def program(seed: int, accounts: list[Account], through: datetime.date) -> list[Instruction]:
    """The seed's instructions requested from FUNDING_START through ``through`` (New York dates), in request order."""
    clients = [a for a in accounts if a.kind != "master" and not a.thin]
    if len([a for a in clients if a.currency == "USD"]) < 2 or through < FUNDING_START:
        return []
    out: list[Instruction] = []
    week = 0
    while (monday := FUNDING_START + datetime.timedelta(weeks=week)) <= through:
        out += [i for i in _week(seed, week, monday, clients) if new_york_date(i.requested) <= through]
        week += 1
    return sorted(out, key=lambda i: (i.requested, i.instruction_id))
