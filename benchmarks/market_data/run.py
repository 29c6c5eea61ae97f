"""``python -m benchmarks.market_data.run [--conids 50] [--days 365] [--bar 1min]``: a bars backfill, one JSON line.

What an operator's UI backfill of ``bars`` does, measured: the bars source staged over the whole
range (range requests chained back from its end, five series in flight, answers streamed through
the spill) and loaded into DuckDB in one transaction. The simulator runs in its own process with
IBKR's real limits (reference §5.2: 10 requests per second through the gateway, 5 history requests
in flight), so this process's memory and CPU are the connector's alone. The universe is ``--conids``
stocks the demo world holds (the positions partition is cut down to them before the run).

Printed: ``rows`` (bars in DuckDB), ``requests`` (history requests the simulator received),
``min_requests`` (the least IBKR allows: per conid, ceil(bars / 1000)), ``seconds`` (staging and
load, wall), ``stage_seconds``, ``load_seconds``, ``pacing_floor_seconds`` (the larger of the global
rate's floor, (ceil(all requests / 10) - 1) s, and five in flight at the simulator's latency: the
history scope's summed arrival-to-answer seconds / 5), ``peak_rss_mb`` (this process's peak resident
memory), ``throttled`` (429s the simulator answered). Bars: requests / min_requests <= 1.1,
peak_rss_mb <= 500, throttled == 0, seconds <= 1.15 x pacing_floor_seconds. Exit status 0 when met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.extractor.harness import simulator_with_client
from ibkr_pipelines.client.limits import default_limits
from ibkr_pipelines.config import Settings
from ibkr_pipelines.simulator import SimulatorConfig
from ibkr_pipelines.sources import SOURCES
from ibkr_pipelines.staging import Storage, load_table, stage_source
from ibkr_pipelines.windows import DateWindow

END = dt.date(2026, 11, 20)  # a fixed date inside the simulator's world: every run backfills the same bars
HISTORY_IN_FLIGHT = 5  # reference §5.2


def pacing_floor(total_requests: int, history_busy_seconds: float) -> float:
    """The least seconds IBKR's limits allow: the global rate's, or five in flight at the simulator's latency."""
    limits = default_limits("gateway")
    rate = max((math.ceil(total_requests / w.count) - 1) * w.seconds for w in limits.scope("global").windows)
    return round(max(rate, history_busy_seconds / HISTORY_IN_FLIGHT), 1)


def peak_rss_mb() -> float:
    """This process's peak resident set (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(conids: int, days: int, bar: str) -> dict[str, Any]:
    """Stage and load ``days`` of ``bar`` bars for ``conids`` held stocks against a simulator in its own process."""
    window = DateWindow(END - dt.timedelta(days=days - 1), END)
    config = SimulatorConfig(seed=7, today=END)
    with tempfile.TemporaryDirectory(prefix="bench-market-data-") as tmp, simulator_with_client(
        config, default_limits("gateway"), in_process=False, prefix="bench-market-data-pacing-"
    ) as (sim, client):
        storage = Storage.at(Path(tmp))
        stage_source(SOURCES["positions"], client, storage, DateWindow.of(END))
        held = storage.lake.read_partition("positions", END)
        chosen = sorted(held.filter(pl.col("asset_class") == "STK").get_column("conid").unique().to_list())[:conids]
        storage.lake.write_partition("positions", END, held.filter(pl.col("conid").is_in(chosen)))
        sim.reset_stats()
        started = time.monotonic()
        stage_source(SOURCES["bars"], client, storage, window, settings=Settings(bar_sizes=(bar,)))
        staged, stage_rss = time.monotonic(), peak_rss_mb()
        load_table("bars", storage, window, run_id="bench-market-data")
        loaded = time.monotonic()
        stats = sim.stats()
        _, per_conid = storage.warehouse.query_readonly("select conid, count(*) from bars group by conid")
    history = stats["scopes"].get("history", {})
    rows = sum(n for _, n in per_conid)
    floor = pacing_floor(int(stats["total_requests"]), float(history.get("busy_seconds", 0.0)))
    return {
        "conids": len(per_conid),
        "bar": bar,
        "window": str(window),
        "rows": rows,
        "requests": int(history.get("requests", 0)),
        "min_requests": sum(math.ceil(n / 1000) for _, n in per_conid),
        "seconds": round(loaded - started, 1),
        "stage_seconds": round(staged - started, 1),
        "load_seconds": round(loaded - staged, 1),
        "pacing_floor_seconds": floor,
        "peak_rss_mb": peak_rss_mb(),
        "stage_peak_rss_mb": stage_rss,
        "throttled": int(stats["total_throttled"]),
    }


def bars_met(result: dict[str, Any]) -> dict[str, bool]:
    """Each bar of the issue, met or not."""
    return {
        "requests_within_1.1_of_min": result["requests"] <= 1.1 * result["min_requests"],
        "peak_rss_within_500_mb": result["peak_rss_mb"] <= 500,
        "not_throttled": result["throttled"] == 0,
        "seconds_within_1.15_of_floor": result["seconds"] <= 1.15 * result["pacing_floor_seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run once, print one JSON line, exit 0 when every bar is met."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.market_data.run", description=__doc__.split("\n")[0])
    parser.add_argument("--conids", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--bar", default="1min")
    args = parser.parse_args(argv)
    result = run(args.conids, args.days, args.bar)
    met = bars_met(result)
    print(json.dumps({**result, "bars_met": met}), flush=True)
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
