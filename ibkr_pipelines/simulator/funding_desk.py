"""A simulator's funding state: the recent-instruction queries clients made and the instructions tests added.

A ``POST /instructions/query`` is itself an instruction (reference §3.4, [am-ref-zh] example: 202 and
PENDING, "poll ... 1 minutes later", "no new queries ... before this one is processed"): the desk keeps
it as a ``Query`` whose history is read at the simulated instant it was made and which is answered
PROCESSED once ``query_seconds`` of wall time have passed (guess: IBKR's minute, shortened so tests are
quick; ``SimulatorConfig.funding_query_seconds`` sets it). One query per client and account is open at a
time (guess: the scope of "no new queries").

Ids (guess): queries' instructionIds from 45,000,000 and instruction sets from 20,000; instructions a test
adds (``POST /sim/funding``, funding_control.py) from 44,000,000 and 10,000, beside the programme's
(funding_program.py). ``stats`` is ``Simulator.stats()["funding"]``, a snapshot of that state; requests and
refusals count with every Account Management endpoint's (am_guard.py). Never a token.
"""

from __future__ import annotations

import collections
import datetime
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from ibkr_pipelines.simulator.funding_program import Instruction

QUERIES_KEPT = 10_000


@dataclass(frozen=True)
class Query:
    """One QUERY_RECENT_INSTRUCTIONS instruction: its ids, who asked, and the history it answers."""

    instruction_id: int
    client_instruction_id: int
    instruction_set_id: int
    client_id: str
    account: str
    requested: datetime.datetime  # the simulated instant it was made (its history's "now")
    ready: float  # wall-clock seconds from which it is PROCESSED
    history: dict[str, Any]

    def done(self, wall: float) -> bool:
        """Whether the query is processed at wall-clock second ``wall``."""
        return wall >= self.ready


class FundingDesk:
    """Thread-safe: queries by id and instructions tests added."""

    def __init__(self, query_seconds: float = 2.0) -> None:
        self.query_seconds = query_seconds
        self._lock = threading.Lock()
        self._queries: collections.OrderedDict[int, Query] = collections.OrderedDict()
        self._made = 0
        self._added: list[Instruction] = []

    # -- queries --
    def open_query(self, client_id: str, account: str, wall: float) -> Query | None:
        """The client's query on ``account`` that is not processed yet at ``wall``, if any."""
        with self._lock:
            return next((q for q in reversed(self._queries.values())
                         if q.client_id == client_id and q.account == account and not q.done(wall)), None)

    def reserve(self) -> tuple[int, int]:
        """Fresh (instructionId, instructionSetId) for a query, made or refused."""
        with self._lock:
            self._made += 1
            return 45_000_000 + self._made, 20_000 + self._made

    def make_query(self, client_id: str, client_instruction_id: int, account: str, requested: datetime.datetime,
                   wall: float, history: dict[str, Any]) -> Query:
        """Record a new query made at wall second ``wall`` (processed ``query_seconds`` later)."""
        iid, sid = self.reserve()
        with self._lock:
            q = Query(iid, client_instruction_id, sid, client_id, account, requested, wall + self.query_seconds,
                      history)
            self._queries[q.instruction_id] = q
            while len(self._queries) > QUERIES_KEPT:
                self._queries.popitem(last=False)
            return q

    def queries(self) -> list[Query]:
        """Every query kept, oldest first."""
        with self._lock:
            return list(self._queries.values())

    # -- instructions a test added (POST /sim/funding) --
    def next_added_number(self) -> int:
        """How many instructions tests added so far, plus one: the next one's number for its ids."""
        with self._lock:
            return len(self._added) + 1

    def add(self, instruction: Instruction) -> None:
        """Keep an instruction a test added; the simulator rebuilds its world with it."""
        with self._lock:
            self._added.append(instruction)

    def added(self) -> tuple[Instruction, ...]:
        """The instructions tests added, in order."""
        with self._lock:
            return tuple(self._added)

    # -- the snapshot --
    def stats(self, statuses: Iterable[str | None], wall: float) -> dict[str, Any]:
        """``stats()["funding"]``: instructions by status, queries kept and pending, instructions tests added."""
        by_status: dict[str, int] = {}
        for s in statuses:
            if s is not None:
                by_status[s] = by_status.get(s, 0) + 1
        with self._lock:
            open_queries = sum(1 for q in self._queries.values() if not q.done(wall))
            return {"instructions": dict(sorted(by_status.items())),
                    "queries": {"kept": len(self._queries), "pending": open_queries},
                    "added_by_tests": len(self._added)}
