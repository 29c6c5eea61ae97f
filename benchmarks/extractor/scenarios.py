"""The benchmark scenarios; each ``run_<name>(duration=..., ...)`` returns one JSON-ready result dict.

Every result carries ``scenario, requests, seconds, limit_per_s, utilization, throttled, bar, passed``
plus scenario-specific keys. ``requests`` and ``throttled`` are what the SIMULATOR counted (every
arrival, retries and 429s included); ``seconds`` runs from the first arrival to the last answer the
client received. A result also fails when a worker saw an error it could not recover from.

The simulator enforces IBKR's real rates (gateway: 10 req/s global and the per-endpoint limits;
OAuth: 50 req/s global; history: 5 concurrent). Only the penalty-box length is shortened (5 s
instead of IBKR's 10 minutes, announced through ``Retry-After``) so that a stray 429 shows up in
``throttled`` without stalling the run for ten minutes.
"""

from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ibkr_pipelines.client.account_listing import account_id_of
from ibkr_pipelines.client.limits import GATEWAY_GLOBAL_PER_S, GLOBAL, default_limits
from ibkr_pipelines.client.retry import RetryPolicy
from ibkr_pipelines.extract.accounts import fetch_account_records
from ibkr_pipelines.extract.positions import fetch_position_records
from ibkr_pipelines.simulator import FaultConfig, SimulatorConfig

from benchmarks.extractor.harness import (
    CALM,
    SPAWN,
    TODAY,
    Conditions,
    arrivals,
    gaps,
    measure,
    scope_stats,
    simulator_with_client,
    start_simulator,
)
from benchmarks.extractor.workload import (
    Dispenser,
    discover,
    history_tasks,
    mixed_tasks,
    process_main,
    run_workers,
    settle,
)

SEED = 7
BENCH_PENALTY_SECONDS = 5.0
# "Occasional" /portfolio/accounts: each process re-lists the accounts every 20 s (IBKR allows 1 per 5 s).
ACCOUNTS_EVERY = 20.0


def _sim_config(conditions: Conditions, auth: str = "gateway", penalty_seconds: float = BENCH_PENALTY_SECONDS,
                **options: Any) -> SimulatorConfig:
    """The simulator with IBKR's limits from its own table (never the client's), a short penalty box."""
    return SimulatorConfig(seed=SEED, today=TODAY, auth=auth, penalty_seconds=penalty_seconds,
                           send_retry_after=True, arrival_jitter_seconds=conditions.jitter_seconds, **options)


def _window_bound(limit_per_s: float, window_seconds: float, conditions: Conditions) -> float:
    """The rate a window of ``limit_per_s`` allows safely when arrivals move by up to the jitter."""
    return limit_per_s * window_seconds / (window_seconds + conditions.jitter_seconds)


def _utilization_bar(bar: float, conditions: Conditions) -> dict[str, Any]:
    """The throughput bar in calm conditions; under stress only the safety bars count (throughput is reported)."""
    return {} if conditions.stressed else {"utilization": bar}


def _meets(out: dict[str, Any], bar: dict[str, Any]) -> bool:
    """Whether ``out`` meets the throughput part of ``bar`` (the other parts are checked by each scenario)."""
    return "utilization" not in bar or out["utilization"] >= bar["utilization"]


def _gateway_limits(penalty_seconds: float = BENCH_PENALTY_SECONDS) -> Any:
    return default_limits("gateway", penalty_seconds=penalty_seconds)


def run_global(duration: float = 60.0, *, threads: int = 6, accounts_every: float | None = ACCOUNTS_EVERY,
               in_process_sim: bool = False, conditions: Conditions = CALM) -> dict[str, Any]:
    """One process, several threads, the mixed workload under the gateway's 10 req/s."""
    limits = _gateway_limits()
    with simulator_with_client(_sim_config(conditions), limits, in_process=in_process_sim, prefix="bench-global-") as (
        sim,
        client,
    ):
        plan = discover(client)
        settle(plan, accounts_every, duration)
        sim.reset_stats()
        work = run_workers(client, Dispenser(mixed_tasks(plan), duration, accounts_every=accounts_every), threads)
        client.close()  # no keep-alive tickle may land between the workload and the counters
        stats = sim.stats()
    bound = _window_bound(GATEWAY_GLOBAL_PER_S, 1.0, conditions)
    out = {"scenario": "global", **measure(stats, work.last_answer, GATEWAY_GLOBAL_PER_S, bound)}
    bar = {**_utilization_bar(0.95, conditions), "throttled": 0}
    out.update(
        bar=bar,
        passed=_meets(out, bar) and out["throttled"] == 0 and work.errors == 0,
        conditions=conditions.describe(),
        threads=threads,
        max_in_window=scope_stats(stats).get("max_in_window"),
        accounts_every_s=accounts_every,
        accounts_calls=work.accounts_calls,
        errors=work.errors,
        client_retries=work.retries,
        **gaps(stats, GATEWAY_GLOBAL_PER_S),
    )
    if work.error_samples:
        out["error_samples"] = work.error_samples[:3]
    return out


def run_two_processes(duration: float = 60.0, *, processes: int = 2, threads: int = 4,
                      accounts_every: float | None = ACCOUNTS_EVERY, in_process_sim: bool = False,
                      conditions: Conditions = CALM) -> dict[str, Any]:
    """Several OS processes, each with its own client, sharing ONE FilePacingStore file and one gateway.

    Each process sets itself up (session, accounts listing, positions paging), then all start the
    mixed workload together on a signal sent after the simulator's counters were reset.
    """
    limits = _gateway_limits()
    sim = start_simulator(_sim_config(conditions), in_process=in_process_sim)
    children = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-two-") as tmp:
            pacing_file = Path(tmp) / "pacing.json"
            ready, go, results = SPAWN.Barrier(processes + 1), SPAWN.Event(), SPAWN.Queue()
            for n in range(processes):
                proc = SPAWN.Process(
                    target=process_main, name=f"bench-extractor-{n}",
                    args=(sim.base_url, limits, str(pacing_file), n, processes, threads, duration, accounts_every,
                          ready, go, results),
                )
                proc.start()
                children.append(proc)
            ready.wait(timeout=180)
            sim.reset_stats()
            go.set()
            reports = [results.get(timeout=duration + 180) for _ in children]
            for proc in children:
                proc.join(timeout=30)
        stats = sim.stats()
    finally:
        for proc in children:
            if proc.is_alive():
                proc.terminate()
        sim.stop()
    last_answer = max(r["last_answer"] for r in reports)
    errors = sum(r["errors"] for r in reports)
    bound = _window_bound(GATEWAY_GLOBAL_PER_S, 1.0, conditions)
    out = {"scenario": "two_processes", **measure(stats, last_answer, GATEWAY_GLOBAL_PER_S, bound)}
    bar = {**_utilization_bar(0.90, conditions), "throttled": 0}
    out.update(
        bar=bar,
        passed=_meets(out, bar) and out["throttled"] == 0 and errors == 0,
        conditions=conditions.describe(),
        processes=processes,
        threads_per_process=threads,
        requests_per_process=[r["done"] for r in reports],
        accounts_every_s=accounts_every,
        max_in_window=scope_stats(stats).get("max_in_window"),
        accounts_calls=sum(r["accounts_calls"] for r in reports),
        errors=errors,
        client_retries=sum(r["retries"] for r in reports),
        **gaps(stats, GATEWAY_GLOBAL_PER_S),
    )
    samples = [s for r in reports for s in r["error_samples"]]
    if samples:
        out["error_samples"] = samples[:3]
    return out


def run_history(duration: float = 30.0, *, threads: int = 10, latency: float = 0.2,
                in_process_sim: bool = False, conditions: Conditions = CALM) -> dict[str, Any]:
    """History requests from many threads: 5 in flight at most, 200 ms server latency, OAuth 50 req/s."""
    limits = default_limits("oauth1", penalty_seconds=BENCH_PENALTY_SECONDS)
    cap = limits.scope("history").concurrency or 1
    limit_per_s = cap / latency
    config = _sim_config(conditions, "oauth", latency={"history": latency})
    with simulator_with_client(config, limits, in_process=in_process_sim, prefix="bench-history-") as (sim, client):
        plan = discover(client)
        settle()
        sim.reset_stats()
        work = run_workers(client, Dispenser(history_tasks(plan), duration), threads)
        client.close()
        stats = sim.stats()
    hist = scope_stats(stats, "history")
    # With arrival jitter each request holds its in-flight slot J/2 longer on average.
    bound = cap / (latency + conditions.jitter_seconds / 2)
    out = {"scenario": "history", **measure(stats, work.last_answer, limit_per_s, bound)}
    # The limit counts requests in flight, so what the pacer controls is how full it keeps the five
    # slots: each request's arrival-to-answer time at the simulator, summed, over five times the run.
    # The request rate also moves with the simulator's own service time (tens of ms per history
    # answer on a busy core), which no client can shorten; it is reported, the bar is on occupancy.
    occupancy = round(hist.get("busy_seconds", 0.0) / (cap * out["seconds"]), 4) if out["seconds"] else 0.0
    out["slot_occupancy"] = occupancy
    bar = {**({} if conditions.stressed else {"slot_occupancy": 0.90}), "throttled": 0}
    out.update(
        bar=bar,
        passed=occupancy >= bar.get("slot_occupancy", 0.0) and out["throttled"] == 0 and work.errors == 0,
        conditions=conditions.describe(),
        threads=threads,
        concurrency_limit=cap,
        latency_s=latency,
        max_concurrency=hist.get("max_concurrency"),
        history_requests=hist.get("requests"),
        statuses=stats["endpoints"].get("GET /iserver/marketdata/history", {}).get("statuses"),
        errors=work.errors,
        client_retries=work.retries,
    )
    if work.error_samples:
        out["error_samples"] = work.error_samples[:3]
    return out


def _fetch_rounds(client: Any, rounds: int | None, duration: float, threads: int) -> tuple[int, list[Any], int]:
    """Fetch every account's positions (all pages) and ledger, round after round, in ``threads`` threads.

    With ``rounds`` None, rounds repeat until ``duration`` has passed. Returns (rounds done, records
    as (kind, account, key, value) tuples, unrecoverable errors).
    """
    accounts = [str(account_id_of(a)) for a in fetch_account_records(client)]  # the FA's sub-accounts too
    records: list[Any] = []
    errors = 0
    lock = threading.Lock()

    def one(account: str) -> None:
        """Fetch one account's positions and ledger into ``records``."""
        nonlocal errors
        try:
            rows, _, _ = fetch_position_records(client, account)
            ledger = client.get(f"/portfolio/{account}/ledger")
        except Exception:  # counted: an error the client could not recover from
            with lock:
                errors += 1
            return
        got = [("position", account, r.get("conid"), r.get("position")) for r in rows]
        got += [("ledger", account, ccy, entry.get("cashbalance")) for ccy, entry in sorted(ledger.items())]
        with lock:
            records.extend(got)

    done = 0
    deadline = time.monotonic() + duration
    with ThreadPoolExecutor(max_workers=threads) as pool:
        while (rounds is None and (done == 0 or time.monotonic() < deadline)) or (rounds is not None and done < rounds):
            list(pool.map(one, accounts))
            done += 1
    return done, records, errors


def run_faults(duration: float = 30.0, *, rounds: int | None = None, threads: int = 4, p_5xx: float = 0.05,
               p_timeout: float = 0.02, p_malformed: float = 0.01, hang_seconds: float = 1.5,
               client_timeout: float = 0.5, fault_seed: int = 11, in_process_sim: bool = False,
               conditions: Conditions = CALM) -> dict[str, Any]:
    """The same fixed fetch against a fault-free and a faulty simulator; the records must be equal.

    The fault-free run fetches rounds for ``duration`` seconds (or ``rounds`` rounds); the faulty run
    then fetches the same number of rounds. The client's read timeout is below the simulator's hang.
    """
    limits = _gateway_limits()
    faults = FaultConfig(seed=fault_seed, p_5xx=p_5xx, p_timeout=p_timeout, p_malformed=p_malformed,
                         timeout_seconds=hang_seconds)
    runs: dict[str, dict[str, Any]] = {}
    for name, fault_config in (("clean", FaultConfig()), ("faulty", faults)):
        with simulator_with_client(
            _sim_config(conditions, faults=fault_config), limits, in_process=in_process_sim,
            prefix=f"bench-faults-{name}-", timeout=client_timeout, retry=RetryPolicy(), seed=fault_seed,
        ) as (sim, client):
            started = time.monotonic()
            done, records, errors = _fetch_rounds(client, rounds, duration, threads)
            last_answer = time.monotonic()
            retries = int(client.stats.as_dict()["totals"]["retries"])
            client.close()
            stats = sim.stats()
        rounds = done
        statuses: dict[str, int] = {}
        for ep in stats["endpoints"].values():
            for code, n in ep["statuses"].items():
                statuses[code] = statuses.get(code, 0) + n
        runs[name] = {"stats": stats, "records": records, "errors": errors, "retries": retries,
                      "last_answer": last_answer, "started": started, "statuses": statuses}
    clean, faulty = runs["clean"], runs["faulty"]
    bound = _window_bound(GATEWAY_GLOBAL_PER_S, 1.0, conditions)
    out = {"scenario": "faults", **measure(faulty["stats"], faulty["last_answer"], GATEWAY_GLOBAL_PER_S, bound)}
    same_count = len(faulty["records"]) == len(clean["records"]) > 0
    same_content = sorted(map(repr, faulty["records"])) == sorted(map(repr, clean["records"]))
    bar = {"records": "equal to the fault-free run", "throttled": 0}
    out.update(
        bar=bar,
        passed=same_count and out["throttled"] == 0 and faulty["errors"] == 0 and same_content,
        conditions=conditions.describe(),
        rounds=rounds,
        records=len(faulty["records"]),
        records_fault_free=len(clean["records"]),
        content_equal=same_content,
        requests_fault_free=clean["stats"]["total_requests"],
        throttled_fault_free=clean["stats"]["total_throttled"],
        injected_5xx=sum(n for code, n in faulty["statuses"].items() if code.startswith("5")),
        injected_timeouts=faulty["statuses"].get("0", 0),
        client_retries=faulty["retries"],
        errors=faulty["errors"],
        fault_config={"p_5xx": p_5xx, "p_timeout": p_timeout, "p_malformed": p_malformed,
                      "hang_seconds": hang_seconds, "client_timeout": client_timeout},
    )
    return out


def run_penalty(duration: float = 30.0, *, scope: str = "portfolio_accounts", penalty_seconds: float = 10.0,
                penalty_at: float = 5.0, threads: int = 6, accounts_every: float | None = 10.0,
                in_process_sim: bool = False, conditions: Conditions = CALM) -> dict[str, Any]:
    """A forced penalty box on ``scope`` while the mixed workload runs: the client must stop that scope.

    ``penalty_at`` seconds into the workload the simulator is told to answer the next request in
    ``scope`` with 429 (``Retry-After``) and to box the scope for ``penalty_seconds``. From the client's
    own send log, no request in the scope may go out between the moment it read the 429 and the end
    of the box (``sent_into_known_box``). From the simulator's log, ``requests_in_box`` counts every
    arrival in the box: in calm conditions that too must be 0 and the forced 429 the only one; with
    arrival jitter, requests already on the wire when the box began arrive inside it (no client can
    call them back), which ``in_flight_when_boxed`` reports. ``other_scope_utilization_in_box`` shows
    how much of the global limit the requests outside the boxed scope used meanwhile.
    """
    limits = _gateway_limits(penalty_seconds)
    sim_config = _sim_config(conditions, penalty_seconds=penalty_seconds)
    with simulator_with_client(sim_config, limits, in_process=in_process_sim, prefix="bench-penalty-") as (
        sim,
        client,
    ):
        plan = discover(client)
        settle(plan, accounts_every, duration)
        sim.reset_stats()
        timer = threading.Timer(penalty_at, sim.force_penalty, args=(scope, penalty_seconds))
        timer.start()
        try:
            work = run_workers(client, Dispenser(mixed_tasks(plan), duration, accounts_every=accounts_every), threads)
        finally:
            timer.cancel()
        client_penalties = client.stats.as_dict()["penalties"]
        noticed = [p["noticed_at"] for p in client.stats.penalties]
        sends = list(client.stats.sends)
        client.close()
        stats = sim.stats()
    name = "penalty" if scope == "portfolio_accounts" else f"penalty_{scope}"
    bound = _window_bound(GATEWAY_GLOBAL_PER_S, 1.0, conditions)
    out = {"scenario": name, **measure(stats, work.last_answer, GATEWAY_GLOBAL_PER_S, bound)}
    box = next((p for p in stats["penalties"] if p["violated"] == scope), None)
    first = arrivals(stats)[0] if stats["log"] else 0.0
    inside, others = [], []
    if box is not None:
        for entry in stats["log"]:
            if box["started"] < entry[0] < box["ends"]:
                (inside if _endpoint_in_scope(entry[2], scope, sim_config) else others).append(entry)
    known_box = [
        (at, endpoint) for at, endpoint in sends
        if box is not None and noticed and noticed[0] < at < box["ends"] and _endpoint_in_scope(endpoint, scope, sim_config)
    ]
    in_flight = len(inside) - len(known_box)
    if conditions.stressed:
        bar = {"sent_into_known_box": 0, "throttled": "1 + in_flight_when_boxed"}
        safe = not known_box and out["throttled"] == 1 + in_flight
    else:
        bar = {"requests_in_box": 0, "throttled": 1}
        safe = not inside and out["throttled"] == 1
    out.update(
        bar=bar,
        passed=box is not None and safe and work.errors == 0,
        conditions=conditions.describe(),
        penalty_scope=scope,
        penalty_seconds=penalty_seconds,
        box_started_s=round(box["started"] - first, 3) if box else None,
        client_noticed_after_s=round(noticed[0] - box["started"], 3) if box and noticed else None,
        sent_into_known_box=len(known_box),
        in_flight_when_boxed=in_flight,
        requests_in_box=len(inside),
        in_box_endpoints=sorted({e[2] for e in inside}),
        other_scope_requests_in_box=len(others) if scope != GLOBAL else None,
        other_scope_utilization_in_box=(round(len(others) / penalty_seconds / GATEWAY_GLOBAL_PER_S, 3)
                                        if scope != GLOBAL else None),
        client_penalties=client_penalties,
        accounts_every_s=accounts_every,
        errors=work.errors,
    )
    if work.error_samples:
        out["error_samples"] = work.error_samples[:3]
    return out


def run_penalty_global(duration: float = 30.0, **options: Any) -> dict[str, Any]:
    """``run_penalty`` with the box on the global scope (IBKR documents its penalty box per IP)."""
    return run_penalty(duration, scope=GLOBAL, **options)


def _endpoint_in_scope(endpoint_key: str, scope: str, sim_config: SimulatorConfig) -> bool:
    """Whether a logged endpoint key (``GET /portfolio/accounts``) belongs to ``scope``, as the simulator sees it."""
    if scope == GLOBAL:
        return True
    method, _, path = endpoint_key.partition(" ")
    path = path.replace("{accountId}", "U0000001").replace("{n}", "0")
    return scope in [s.name for s in sim_config.effective_limits().scopes_for(method, path)]


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "global": run_global,
    "two_processes": run_two_processes,
    "history": run_history,
    "faults": run_faults,
    "penalty": run_penalty,
    "penalty_global": run_penalty_global,
}
