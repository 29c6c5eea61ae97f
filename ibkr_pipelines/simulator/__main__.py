"""``python -m ibkr_pipelines.simulator [--port N] [--tls] [--seed N] [--today YYYY-MM-DD] [--logged-out]``."""

from __future__ import annotations

import argparse
import datetime

from ibkr_pipelines.simulator.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve in the foreground."""
    p = argparse.ArgumentParser(prog="python -m ibkr_pipelines.simulator", description=main.__doc__)
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--today", type=datetime.date.fromisoformat, default=None)
    p.add_argument("--logged-out", action="store_true")
    a = p.parse_args(argv)
    serve(port=a.port, tls=a.tls, seed=a.seed, today=a.today, logged_in=not a.logged_out)


if __name__ == "__main__":
    main()
