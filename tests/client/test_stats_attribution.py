"""Steps sharing one client each see their own traffic (``RunStats.attributed``), threads they start included."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ibkr_pipelines.client.stats import RunStats, with_attribution


def test_each_context_counts_its_own_requests_and_the_whole_counts_all() -> None:
    whole = RunStats()
    parts: dict[str, RunStats] = {}
    ready = threading.Barrier(2, timeout=5)

    def step(name: str, requests: int) -> None:
        with whole.attributed() as part:
            parts[name] = part
            ready.wait()  # both steps record at the same time
            for _ in range(requests):
                whole.add("GET /a", requests=1, bytes=10)

    threads = [threading.Thread(target=step, args=("one", 3)), threading.Thread(target=step, args=("two", 5))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert parts["one"].totals().requests == 3 and parts["two"].totals().requests == 5
    assert whole.totals().requests == 8 and whole.totals().bytes == 80


def test_worker_threads_started_with_attribution_count_for_the_step() -> None:
    whole = RunStats()
    with whole.attributed() as part:
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(with_attribution(lambda _: whole.add("GET /b", requests=1)), range(6)))
        unattributed = threading.Thread(target=lambda: whole.add("GET /b", requests=1))  # not handed on
        unattributed.start()
        unattributed.join()
        whole.note("cold_read_retries")
        whole.note_penalty("GET /b", ("global",), 1.0)
    assert part.totals().requests == 6
    assert whole.totals().requests == 7
    assert part.cold_read_retries == 1 and len(part.penalties) == 1 and len(whole.penalties) == 1


def test_penalty_listeners_of_a_part_hear_only_its_penalties() -> None:
    whole = RunStats()
    heard: list[dict] = []
    with whole.attributed() as part:
        part.penalty_listeners.append(heard.append)
        whole.note_penalty("GET /c", ("history",), 2.0)
    whole.note_penalty("GET /d", ("global",), 2.0)  # outside the step
    assert [p["endpoint"] for p in heard] == ["GET /c"]
