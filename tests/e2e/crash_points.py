"""Runs the real ``ibkr-pipelines`` CLI, stopped at one chosen stage so a test can ``kill -9`` it exactly there.

``CRASH_POINT=<stage>:<table>`` with stage one of
- ``extracting``: the table was fetched from IBKR, nothing of it written yet (other tables may be pending);
- ``inside-load``: inside the table's DuckDB transaction, its rows already replaced, nothing committed;
- ``after-load``: the table's load committed, the loads after it not started.
The process prints ``CRASH-POINT <stage>:<table>`` on stderr and sleeps until killed. Nothing in the
product knows about this: the stages are reached by wrapping its functions from the outside.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

MARKER = "CRASH-POINT"


def _stop_here(point: str) -> None:
    print(f"{MARKER} {point}", file=sys.stderr, flush=True)
    time.sleep(600)


def _install(point: str) -> None:
    stage, _, table = point.partition(":")
    if stage == "extracting":
        import ibkr_pipelines.staging as staging

        validate: Callable[..., Any] = staging.split_valid_partitions

        def split_then_stop(name: str, partitions: Any, **kwargs: Any) -> Any:
            if name == table:
                _stop_here(point)
            return validate(name, partitions, **kwargs)

        staging.split_valid_partitions = split_then_stop  # type: ignore[assignment]
    elif stage == "inside-load":
        from ibkr_pipelines.land.warehouse import Warehouse

        replace_quarantine = Warehouse._replace_quarantine

        def stop_inside(con: Any, name: str, *args: Any) -> int:
            if name == table:
                _stop_here(point)
            return replace_quarantine(con, name, *args)

        Warehouse._replace_quarantine = staticmethod(stop_inside)  # type: ignore[method-assign]
    elif stage == "after-load":
        import assets.factory as factory

        load = factory.load_table

        def load_then_stop(name: str, *args: Any, **kwargs: Any) -> Any:
            result = load(name, *args, **kwargs)
            if name == table:
                _stop_here(point)
            return result

        factory.load_table = load_then_stop  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown CRASH_POINT {point!r}")


if __name__ == "__main__":
    _install(os.environ["CRASH_POINT"])
    from ibkr_pipelines.cli import main

    sys.exit(main(sys.argv[1:]))
