"""Build the report: read the views for each section, draw the charts, write the HTML file."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import duckdb
import polars as pl

from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.report import charts, queries
from ibkr_pipelines.report.page import Figure, Section, frame_records, render_page
from ibkr_pipelines.report.queries import Query, Scope
from ibkr_pipelines.report.render import to_svg

BENCHMARK_SETTING = "IBKR_REPORT_BENCHMARK"
BENCHMARK_OPTION = f"--benchmark ({BENCHMARK_SETTING})"


@dataclass
class ReportResult:
    """What was written, and the charts the Dagster asset shows inline."""

    path: Path
    figures: int
    empty_figures: int
    sections: list[Section]
    headline_charts: dict[str, Any] = field(default_factory=dict)


def benchmark_from(option: str | None, env: dict[str, str] | None = None) -> int | None:
    """The benchmark conid from ``--benchmark`` or IBKR_REPORT_BENCHMARK (None: no benchmark); one line if unreadable."""
    text = option if option is not None else (env if env is not None else os.environ).get(BENCHMARK_SETTING, "")
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise ConfigError(BENCHMARK_OPTION, f"expected a conid (a positive whole number), got {text!r}")
    return int(text)


def _check_benchmark(con: duckdb.DuckDBPyConnection, conid: int) -> str:
    """The benchmark's symbol; a one-line ConfigError when the warehouse has no bars for it."""
    (count, symbol), = con.execute("SELECT count(*), any_value(symbol) FROM bars_daily WHERE conid = ?",
                                   [conid]).fetchall()
    if not count:
        some = [str(c) for (c,) in con.execute(
            "SELECT DISTINCT conid FROM bars_daily ORDER BY conid LIMIT 5").fetchall()]
        raise ConfigError(BENCHMARK_OPTION, f"conid {conid} has no bars in the warehouse (land it through "
                          f"IBKR_WATCHLIST; conids with bars: {', '.join(some) or 'none yet'})")
    return str(symbol or conid)


def _scopes(con: duckdb.DuckDBPyConnection, account: str | None, start: dt.date | None,
            end: dt.date | None) -> list[Scope]:
    """The sections: the login's accounts per base currency (when more than one), then each account."""
    rows = con.execute("SELECT account_id, base_currency FROM account_base_currency ORDER BY account_id").fetchall()
    if account is not None:
        known = [a for a, _ in rows]
        if account not in known:
            raise ConfigError("--account", f"{account!r} is not in the warehouse (accounts: {', '.join(known) or 'none'})")
        rows = [r for r in rows if r[0] == account]
    scopes = []
    if account is None:
        for base in sorted({b for _, b in rows}):
            members = tuple(a for a, b in rows if b == base)
            if len(members) > 1:
                scopes.append(Scope(f"Whole login, {base} accounts", base, members, True, start, end))
    scopes += [Scope(f"Account {a}", b, (a,), False, start, end) for a, b in rows]
    return scopes


def _figure(key: str, title: str, query_list: list[Query], frames: list[pl.DataFrame],
            draw: Callable[[], Any], empty: str) -> tuple[Figure, Any]:
    chart = draw()
    figure = Figure(key, title, [q.view for q in query_list], [q.sql for q in query_list],
                    svg=to_svg(chart) if chart is not None else None, empty_sentence=empty,
                    data={q.view: frame_records(f) for q, f in zip(query_list, frames)})
    return figure, chart


def _realized_query(con: duckdb.DuckDBPyConnection, scope: Scope) -> Query | None:
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'realized_pnl_by_year'").fetchall()]
    return queries.realized_pnl(scope, columns) if columns else None


def _scope_section(con: duckdb.DuckDBPyConnection, scope: Scope, benchmark: tuple[int, str] | None,
                   headline: dict[str, Any]) -> Section:
    """Every chart of one account, or of the login's accounts of one base currency."""
    cur = scope.base_currency
    who = scope.title if scope.is_login else f"account {scope.accounts[0]}"
    anchor = ("login-" + cur if scope.is_login else "account-" + scope.accounts[0]).lower()
    intro = (f"Accounts {', '.join(scope.accounts)}, added up in their base currency {cur}." if scope.is_login
             else f"Base currency {cur}.")
    section = Section(anchor, scope.title, intro)

    nav_q, flows_q = queries.nav_curve(scope), queries.cash_flows(scope)
    nav, flows = nav_q.run(con), flows_q.run(con)
    figure, chart = _figure("nav", f"NAV, {who}", [nav_q, flows_q], [nav, flows],
                            lambda: charts.nav_chart(nav, flows, cur, f"NAV ({cur}), {who}"),
                            f"No NAV landed for {who} in the period ({nav_q.view} has no rows).")
    section.figures.append(figure)
    if chart is not None:
        headline.setdefault("nav", chart)

    series = nav.select(pl.lit(who).alias("series"), pl.col("nav_date").alias("date"), "daily_return", "period_return")
    return_queries, return_frames = [nav_q], [nav]
    if benchmark is not None:
        bench_q = queries.benchmark_returns(scope, benchmark[0])
        bench = bench_q.run(con)
        return_queries.append(bench_q)
        return_frames.append(bench)
        note = (f"benchmark {benchmark[1]} (conid {benchmark[0]}): price return from daily_returns in {cur}"
                if not bench.is_empty() else f"benchmark conid {benchmark[0]} has no {cur} bars in the period")
        series = pl.concat([series, bench.select(pl.lit(f"{benchmark[1]} (benchmark)").alias("series"),
                                                 pl.col("bar_date").alias("date"), "daily_return", "period_return")])
    else:
        note = f"no benchmark named ({BENCHMARK_OPTION} CONID)"
    figure, _ = _figure("returns", f"Daily and cumulative returns (TWR), {who}", return_queries, return_frames,
                        lambda: charts.returns_chart(series, cur, f"Time-weighted returns, {who}", note),
                        f"No returns landed for {who} in the period (nav_and_returns has no rows).")
    section.figures.append(figure)

    alloc_q = queries.allocation(scope)
    alloc = alloc_q.run(con)
    empty = f"No positions, cash or allocation landed for {who} in the period (allocation_by_date has no rows)."
    figure, _ = _figure("allocation_now", f"Allocation now, {who}", [alloc_q], [alloc],
                        lambda: charts.allocation_now_chart(alloc, cur, f"Allocation now ({cur}), {who}"), empty)
    section.figures.append(figure)
    figure, _ = _figure("allocation_history", f"Allocation over time, {who}", [alloc_q], [alloc],
                        lambda: charts.allocation_history_chart(alloc, cur, f"Allocation over time ({cur}), {who}"),
                        empty)
    section.figures.append(figure)

    pos_q = queries.largest_positions(scope)
    positions = pos_q.run(con)
    figure, _ = _figure("positions", f"Largest positions and their P&L, {who}", [pos_q], [positions],
                        lambda: charts.positions_chart(positions, cur, f"Largest positions ({cur}), {who}"),
                        f"{who.capitalize()} held no positions in the period (position_values has no rows).")
    section.figures.append(figure)

    income_q = queries.cash_income(scope)
    income = income_q.run(con)
    figure, _ = _figure("income", f"Dividends, withholding, fees and interest by month, {who}", [income_q], [income],
                        lambda: charts.income_chart(income, cur, f"Cash income and costs by month ({cur}), {who}"),
                        f"No dividends, withholding, fees or interest landed for {who} in the period "
                        "(cash_income_by_month has no rows: land the Flex statements, `ingest --select flex_*`).")
    section.figures.append(figure)

    realized_q = _realized_query(con, scope)
    if realized_q is None:
        section.figures.append(Figure("realized", f"Realized P&L by year, {who}", ["realized_pnl_by_year"], [],
                                      empty_sentence="The warehouse has no realized_pnl_by_year view (or not the "
                                      "columns the report reads), so realized P&L by year cannot be shown."))
    else:
        realized = realized_q.run(con)
        figure, _ = _figure("realized", f"Realized P&L by year, {who}", [realized_q], [realized],
                            lambda: charts.realized_chart(realized, cur, f"Realized P&L by year ({cur}), {who}"),
                            f"No realized P&L landed for {who} in the period (realized_pnl_by_year has no rows).")
        section.figures.append(figure)
    return section


def build_report(db_path: Path, out: Path, *, start: dt.date | None = None, end: dt.date | None = None,
                 account: str | None = None, benchmark: int | None = None,
                 now: dt.datetime | None = None) -> ReportResult:
    """Read the warehouse's views and write the self-contained HTML report to ``out``."""
    if start is not None and end is not None and start > end:
        raise ConfigError("--from", f"{start} is after --to {end}")
    if not db_path.exists():
        raise ConfigError("IBKR_DATA_DIR", f"no warehouse at {db_path}: run `ibkr-pipelines ingest` first")
    from ibkr_pipelines.sources import nightly_tables

    warehouse = Warehouse(db_path)
    warehouse.ensure_schema(nightly_tables())  # the report's views exist in a warehouse made before them
    headline: dict[str, Any] = {}
    with warehouse.connect(read_only=True) as con:
        bench = (benchmark, _check_benchmark(con, benchmark)) if benchmark is not None else None
        scopes = _scopes(con, account, start, end)
        cov_q = queries.coverage(start, end)
        cov = cov_q.run(con)
        figure, chart = _figure("coverage", "What landed, per dataset and date", [cov_q], [cov],
                                lambda: charts.coverage_chart(cov, "Coverage: what landed per dataset and date"),
                                "Nothing has been loaded in the period (dataset_coverage has no rows).")
        if chart is not None:
            headline["coverage"] = chart
        sections = [Section("coverage", "Coverage", "Every dataset against every date; nightly datasets not "
                            "loaded on a date are gaps (red).", [figure])]
        sections += [_scope_section(con, scope, bench, headline) for scope in scopes]
    period = f"{start or 'first landed date'} to {end or 'last landed date'}"
    facts = [f"Period: {period} (trading dates, New York: IBKR's trading date for every account).",
             f"Benchmark: {bench[1]} (conid {bench[0]})" if bench else f"Benchmark: none ({BENCHMARK_OPTION}).",
             "Each chart names the view it reads and the SQL that gives its numbers (`ibkr-pipelines sql`)."]
    generated = now or dt.datetime.now(dt.timezone.utc)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file of its own beside the target: the CLI and the Dagster asset may write at once.
    handle, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as tmp:
        tmp.write(render_page("IBKR portfolio report", facts, sections, generated))
    os.chmod(tmp_name, 0o644)
    os.replace(tmp_name, out)
    figures = [f for s in sections for f in s.figures]
    return ReportResult(out, len(figures), sum(f.svg is None for f in figures), sections, headline)
