"""The request mix an extractor sends, and the threads (and processes) that send it.

A ``Plan`` is discovered once (accounts, how many positions pages each has, the held conids). The
mixed workload cycles through the per-account reads an ingestion makes (meta, summary, ledger,
allocation, every positions page) and ``/trsrv/secdef`` batches of up to 200 conids, shared by several
threads; every ``accounts_every`` seconds the next request is a ``/portfolio/accounts`` listing
(IBKR allows one per 5 s). Threads stop taking work at the deadline; requests already waiting in
the pacer still go out and are counted.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ibkr_pipelines.client.account_listing import account_id_of
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.limits import SECDEF_MAX_CONIDS, Limits
from ibkr_pipelines.errors import IbkrError
from ibkr_pipelines.extract.accounts import fetch_account_records
from ibkr_pipelines.extract.positions import PAGE_SIZE, fetch_position_records

from benchmarks.extractor.harness import make_client

ACCOUNTS_PATH = "/portfolio/accounts"


@dataclass(frozen=True)
class Task:
    """One request: method, path (relative to /v1/api), query params and JSON body."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None


ACCOUNTS = Task("GET", ACCOUNTS_PATH)


@dataclass(frozen=True)
class Plan:
    """What the simulated login holds: account ids, positions pages per account, held conids."""

    accounts: tuple[str, ...]
    pages: tuple[int, ...]
    conids: tuple[int, ...]
    listed_at: float = 0.0  # monotonic time the /portfolio/accounts listing was answered


def discover(client: IbkrClient) -> Plan:
    """List accounts and page through every account's positions once (the extractor's own code)."""
    accounts = tuple(str(account_id_of(a)) for a in fetch_account_records(client))  # the FA's sub-accounts too
    listed_at = time.monotonic()
    pages, conids = [], set()
    for account in accounts:
        rows, _, _ = fetch_position_records(client, account)
        pages.append(len(rows) // PAGE_SIZE + 1)
        conids.update(int(r["conid"]) for r in rows if isinstance(r, dict) and r.get("conid") is not None)
    return Plan(accounts, tuple(pages), tuple(sorted(conids)), listed_at)


def settle(plan: Plan | None = None, accounts_every: float | None = None, duration: float = 0.0, *,
           window_seconds: float = 1.1, accounts_seconds: float = 5.1) -> None:
    """Let the set-up's requests leave the pacing windows before measuring.

    Waits ``window_seconds`` (the 1 s global window) and, when the workload will list accounts
    (``accounts_every`` seconds after its start, within ``duration``), long enough that this first
    listing comes ``accounts_seconds`` after the set-up's one (IBKR allows one per 5 s). Requests made
    while setting up then neither delay nor count against the measured workload.
    """
    wait = window_seconds
    if plan is not None and accounts_every is not None and accounts_every < duration:
        wait = max(wait, plan.listed_at + accounts_seconds - accounts_every - time.monotonic())
    time.sleep(wait)


def mixed_tasks(plan: Plan) -> list[Task]:
    """One pass of the mixed extractor workload over every account, then the secdef batches."""
    tasks: list[Task] = []
    for account, pages in zip(plan.accounts, plan.pages):
        base = f"/portfolio/{account}"
        tasks += [Task("GET", f"{base}/meta"), Task("GET", f"{base}/summary"), Task("GET", f"{base}/ledger"),
                  Task("GET", f"{base}/allocation")]
        tasks += [Task("GET", f"{base}/positions/{p}") for p in range(pages)]
    for i in range(0, len(plan.conids), SECDEF_MAX_CONIDS):
        tasks.append(Task("POST", "/trsrv/secdef", body={"conids": list(plan.conids[i:i + SECDEF_MAX_CONIDS])}))
    return tasks


def history_tasks(plan: Plan, count: int = 40) -> list[Task]:
    """History requests over the first ``count`` held conids, alternating daily, hourly and 5-minute bars."""
    shapes = (("1d", "1y"), ("1h", "1w"), ("5min", "1d"))
    return [Task("GET", "/iserver/marketdata/history",
                 (("conid", str(c)), ("bar", bar), ("period", period), ("outsideRth", "false")))
            for c, (bar, period) in zip(plan.conids[:count], itertools.cycle(shapes))]


class Dispenser:
    """Hands out tasks in a shared cycle until the deadline, with a periodic accounts listing."""

    def __init__(self, tasks: Sequence[Task], duration: float, *, accounts_every: float | None = None,
                 offset: int = 0) -> None:
        self._tasks = list(tasks)
        self._lock = threading.Lock()
        self._i = offset
        self.started = time.monotonic()
        self.deadline = self.started + duration
        self._accounts_every = accounts_every
        self._next_accounts = self.started + accounts_every if accounts_every else float("inf")
        self.accounts_calls = 0

    def next(self) -> Task | None:
        """The next task, or None once the deadline has passed."""
        now = time.monotonic()
        with self._lock:
            if now >= self.deadline:
                return None
            if now >= self._next_accounts and self._accounts_every:
                self._next_accounts = now + self._accounts_every
                self.accounts_calls += 1
                return ACCOUNTS
            task = self._tasks[self._i % len(self._tasks)]
            self._i += 1
            return task


@dataclass
class WorkResult:
    """What the worker threads of one process did."""

    done: int = 0
    errors: int = 0
    last_answer: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    accounts_calls: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for a result queue between processes)."""
        return {"done": self.done, "errors": self.errors, "last_answer": self.last_answer,
                "error_samples": self.error_samples[:5], "accounts_calls": self.accounts_calls,
                "retries": self.retries}


def run_workers(client: IbkrClient, dispenser: Dispenser, threads: int) -> WorkResult:
    """Run ``threads`` threads taking tasks from ``dispenser`` through one shared client."""
    result = WorkResult()
    lock = threading.Lock()

    def worker() -> None:
        """Send tasks until the dispenser runs dry, noting answers and errors."""
        while (task := dispenser.next()) is not None:
            error = None
            try:
                client.request(task.method, task.path, params=dict(task.params) or None, json=task.body)
            except IbkrError as exc:
                error = f"{type(exc).__name__}: {exc}"
            answered = time.monotonic()
            with lock:
                result.last_answer = max(result.last_answer, answered)
                if error is None:
                    result.done += 1
                else:
                    result.errors += 1
                    result.error_samples.append(error[:300])

    pool = [threading.Thread(target=worker, name=f"bench-worker-{n}", daemon=True) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    result.accounts_calls = dispenser.accounts_calls
    result.retries = int(client.stats.as_dict()["totals"]["retries"])
    return result


def process_main(base_url: str, limits: Limits, pacing_file: str, index: int, processes: int, threads: int,
                 duration: float, accounts_every: float | None, ready: Any, go: Any, results: Any) -> None:
    """One extractor process of the multi-process scenario: set up, wait for the start signal, run, report."""
    client = make_client(base_url, limits, Path(pacing_file))
    try:
        client.start()
        plan = discover(client)
        settle(plan, accounts_every, duration)
        ready.wait(timeout=180)
        go.wait(timeout=180)
        tasks = mixed_tasks(plan)
        dispenser = Dispenser(tasks, duration, accounts_every=accounts_every, offset=index * len(tasks) // processes)
        result = run_workers(client, dispenser, threads)
        results.put(result.as_dict())
    except BaseException as exc:  # report, so the parent does not wait for a result that never comes
        results.put({"done": 0, "errors": 1, "last_answer": 0.0, "error_samples": [repr(exc)[:300]],
                     "accounts_calls": 0, "retries": 0})
        raise
    finally:
        client.close()
