"""``ibkr-pipelines report``: the portfolio report from the warehouse (never IBKR), one HTML file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ibkr_pipelines.config import Settings
from ibkr_pipelines.report.build import benchmark_from, build_report


def run_report(start: dt.date | None, end: dt.date | None, account: str | None, out: str | None,
               benchmark: str | None) -> int:
    """Write the report and say where it is."""
    settings = Settings.from_env()
    target = Path(out) if out else settings.data_dir / "reports" / "portfolio-report.html"
    result = build_report(settings.db_path, target, start=start, end=end, account=account,
                          benchmark=benchmark_from(benchmark))
    print(f"wrote {result.path} ({result.figures} charts, {result.empty_figures} with nothing to show)")
    return 0
