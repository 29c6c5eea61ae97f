"""The pacer keeps every window under its limit, smoothly, across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ibkr_pipelines.client.limits import GLOBAL, Limits, RateWindow, Scope
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import FilePacingStore, MemoryPacingStore
from tests.client.windows import max_in_window

# These tests time the pacer against a clock: they run alone, after the parallel part of the suite.
pytestmark = pytest.mark.serial


def _limits(**scopes: Scope) -> Limits:
    table = {GLOBAL: Scope(GLOBAL, (RateWindow(10, 0.5),))}
    table.update(scopes)
    return Limits(scopes=table, rules=(), penalty_seconds=1.0, safety_seconds=0.01)


def test_threads_never_exceed_the_window_and_do_not_burst() -> None:
    limits = _limits()
    pacer = Pacer(limits, MemoryPacingStore())
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            with pacer.slot([limits.scope(GLOBAL)]):
                with lock:
                    sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 32
    assert max_in_window(sent, 0.5) <= 10
    gaps = [b - a for a, b in zip(sorted(sent), sorted(sent)[1:])]
    assert min(gaps) >= 0.05 - 0.005, "requests are spaced at period/count, never burst"
    elapsed = max(sent) - min(sent)
    assert elapsed < 31 * 0.052 + 0.3, "pacing stays close to the limit"


def _child(path: str, out: str, n: int) -> None:
    limits = _limits()
    pacer = Pacer(limits, FilePacingStore(Path(path)))
    stamps = []
    for _ in range(n):
        with pacer.slot([limits.scope(GLOBAL)]):
            stamps.append(time.monotonic())
    Path(out).write_text("\n".join(map(repr, stamps)))


def test_two_processes_share_one_limit(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    store = tmp_path / "pacing.json"
    outs = [tmp_path / f"out{i}.txt" for i in range(2)]
    procs = [ctx.Process(target=_child, args=(str(store), str(o), 15)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    stamps = [float(x) for o in outs for x in o.read_text().split()]
    assert len(stamps) == 30
    assert max_in_window(stamps, 0.5) <= 10


def test_penalty_stops_the_scope_and_escalates_on_a_second_box() -> None:
    accounts = Scope("portfolio_accounts", (RateWindow(1, 0.05),))
    other = Scope("tickle", (RateWindow(1, 0.05),))
    limits = _limits(portfolio_accounts=accounts, tickle=other)
    pacer = Pacer(limits, MemoryPacingStore())
    first = pacer.penalize("portfolio_accounts", 0.4)
    assert first.scopes == ("portfolio_accounts",)
    t0 = time.monotonic()
    with pacer.slot([limits.scope(GLOBAL)]):
        pass
    assert time.monotonic() - t0 < 0.1, "an unrelated scope is not held"
    with pacer.slot([accounts, limits.scope(GLOBAL)]) as slot:
        assert time.monotonic() >= first.until
        assert slot.waited > 0.3
    second = pacer.penalize("tickle", 0.3)
    assert second.scopes == ("tickle",), "the first box has ended, so no escalation"
    third = pacer.penalize("portfolio_accounts", 0.3)
    assert GLOBAL in third.scopes, "two scopes boxed at once means IBKR boxed the whole IP"


def test_concurrency_cap_holds_across_threads_and_drops_dead_leases() -> None:
    history = Scope("history", concurrency=2)
    limits = _limits(history=history)
    store = MemoryPacingStore()
    pacer = Pacer(limits, store)
    store.transact(lambda s, now: s.scope("history").leases.update({"dead": [999_999_999, now]}))
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal in_flight, peak
        with pacer.slot([history]):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.05)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert store.transact(lambda s, now: dict(s.scope("history").leases)) == {}


def test_leases_can_be_held_after_a_timeout() -> None:
    history = Scope("history", concurrency=1)
    pacer = Pacer(_limits(history=history), MemoryPacingStore())
    with pacer.slot([history]) as slot:
        slot.hold_leases_after_exit(0.2)
    t0 = time.monotonic()
    with pacer.slot([history]) as slot:
        assert time.monotonic() - t0 >= 0.15


def test_a_request_waiting_for_its_own_slow_endpoint_does_not_hold_up_others() -> None:
    slow = Scope("portfolio_accounts", (RateWindow(1, 0.6),))
    limits = _limits(portfolio_accounts=slow)
    pacer = Pacer(limits, MemoryPacingStore())
    with pacer.slot([slow, limits.scope(GLOBAL)]):
        pass
    entered: dict[str, float] = {}

    def second_listing() -> None:
        with pacer.slot([slow, limits.scope(GLOBAL)]):
            entered["slow"] = time.monotonic()

    t0 = time.monotonic()
    waiter = threading.Thread(target=second_listing)
    waiter.start()
    time.sleep(0.05)
    with pacer.slot([limits.scope(GLOBAL)]):
        entered["fast"] = time.monotonic()
    waiter.join()
    assert entered["fast"] - t0 < 0.2, "a global-only request slips in before the slow endpoint's slot"
    assert entered["slow"] - t0 >= 0.55


def test_a_request_booked_before_a_penalty_waits_for_the_penalty_to_end() -> None:
    # The booking lies 2 s ahead and the box (3 s) covers it, with margin for a slow machine: even when this
    # thread is late by a second to open the box, the waiter's booked time is still inside it.
    limits = replace(_limits(), scopes={GLOBAL: Scope(GLOBAL, (RateWindow(10, 2.0),))})
    pacer = Pacer(limits, MemoryPacingStore())
    for _ in range(10):  # fill the window so the next booking lies in the future
        with pacer.slot([limits.scope(GLOBAL)]):
            pass
    entered: list[float] = []

    def late() -> None:
        with pacer.slot([limits.scope(GLOBAL)]):
            entered.append(time.monotonic())

    waiter = threading.Thread(target=late)
    waiter.start()
    time.sleep(0.05)
    penalty = pacer.penalize(GLOBAL, 3.0)
    waiter.join()
    assert entered[0] >= penalty.until, "nothing is sent into a box that began after it was booked"
