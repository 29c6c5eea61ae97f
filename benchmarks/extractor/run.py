"""``python -m benchmarks.extractor.run [--scenario NAME] [--quick]``: one JSON line per scenario.

Exit status 0 when every scenario met its bar, 1 otherwise (2 for a scenario that crashed).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Any

from benchmarks.extractor.harness import Conditions, cpu_hogs
from benchmarks.extractor.scenarios import SCENARIOS

# Full runs (several minutes in all) and --quick smoke runs (a few seconds each, short penalty).
FULL: dict[str, dict[str, Any]] = {
    "global": {"duration": 60.0},
    "two_processes": {"duration": 60.0},
    "history": {"duration": 30.0},
    "faults": {"duration": 30.0},
    "penalty": {"duration": 30.0, "penalty_seconds": 10.0, "penalty_at": 5.0},
    "penalty_global": {"duration": 30.0, "penalty_seconds": 10.0, "penalty_at": 5.0},
}
QUICK: dict[str, dict[str, Any]] = {
    "global": {"duration": 4.0, "accounts_every": 2.0},
    "two_processes": {"duration": 4.0, "accounts_every": 2.0},
    "history": {"duration": 3.0},
    "faults": {"duration": 3.0},
    "penalty": {"duration": 4.0, "penalty_seconds": 2.0, "penalty_at": 1.0, "accounts_every": 2.0},
    "penalty_global": {"duration": 4.0, "penalty_seconds": 2.0, "penalty_at": 1.0},
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios (all by default), print their JSON lines, return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.extractor.run", description=main.__doc__)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="a few seconds per scenario (smoke run)")
    parser.add_argument("--in-process-sim", action="store_true",
                        help="run the simulator on a thread of this process instead of a child process")
    parser.add_argument("--jitter", type=float, default=0.0, metavar="SECONDS",
                        help="requests reach the simulator after a random 0..SECONDS delay")
    parser.add_argument("--cpu-hogs", type=int, default=0, metavar="N",
                        help="N processes spinning on the CPU beside the benchmark")
    args = parser.parse_args(argv)
    presets = QUICK if args.quick else FULL
    conditions = Conditions(jitter_seconds=args.jitter, cpu_hogs=args.cpu_hogs)
    status = 0
    for name in args.scenario or list(SCENARIOS):
        options = dict(presets[name], in_process_sim=args.in_process_sim, conditions=conditions)
        try:
            with cpu_hogs(conditions.cpu_hogs):
                result = SCENARIOS[name](**options)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"scenario": name, "passed": False, "crashed": f"{type(exc).__name__}: {exc}"}
            status = 2
        print(json.dumps(result, separators=(", ", ": ")), flush=True)
        if not result.get("passed") and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
