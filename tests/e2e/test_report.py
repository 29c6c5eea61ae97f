"""Issue 14: `ibkr-pipelines report` on a landed night: every chart renders offline in Chromium, the NAV
curve ends on nav_by_account, and the report's numbers are the views' numbers.

The night comes from the session fixture ``night`` (read-only): its warehouse is copied, and the report
runs on the copy (it makes sure the views exist, which is a write).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_helpers import Workdir
from tests.ui import harness

pytestmark = pytest.mark.slow

FIGURE = re.compile(r'<figure class="chart" data-chart="(?P<key>[^"]+)" data-view="(?P<views>[^"]*)" '
                    r'data-empty="(?P<empty>true|false)">(?P<body>.*?)</figure>', re.S)
SECTION = re.compile(r'<section id="(?P<id>[^"]+)">(?P<body>.*?)</section>', re.S)
DATA = re.compile(r'<script type="application/json" class="chart-data">(.*?)</script>', re.S)
ACCOUNT, START, END = "U7000011", "2026-11-18", "2026-11-20"


@dataclass
class Chart:
    section: str
    key: str
    views: list[str]
    empty: bool
    svgs: int
    data: dict[str, list[dict[str, Any]]]


def charts_of(page_html: str) -> list[Chart]:
    """Every figure of the report with its section, views, SVG count and embedded numbers."""
    found = []
    for section in SECTION.finditer(page_html):
        for fig in FIGURE.finditer(section["body"]):
            data = json.loads(html.unescape(DATA.search(fig["body"]).group(1)).replace("<\\/", "</"))
            found.append(Chart(section["id"], fig["key"], fig["views"].split(","), fig["empty"] == "true",
                               fig["body"].count("<svg"), data))
    return found


def spy_conid(work: Workdir) -> int:
    """A conid with bars: the watchlist's SPY."""
    return work.query("select conid from watchlist where symbol = 'SPY'")[0][0]


@pytest.fixture(scope="module")
def chromium_path() -> Path:
    """Debian's chromium, or a skip that says why it is missing (as tests/ui/conftest.py does)."""
    if not harness.CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {harness.CHROMIUM} (`make system-deps` installs it)")
    return harness.CHROMIUM


@pytest.fixture(scope="module")
def report_work(night: Workdir, tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """A work folder holding a copy of the night's warehouse."""
    work = Workdir.make(tmp_path_factory.mktemp("report"))
    work.db.parent.mkdir(parents=True)
    shutil.copy(night.db, work.db)
    return work


@pytest.fixture(scope="module")
def full_report(report_work: Workdir) -> Path:
    """`ibkr-pipelines report --benchmark <SPY>` over everything landed."""
    out = report_work.root / "report.html"
    done = report_work.run(["report", "--benchmark", str(spy_conid(report_work)), "--out", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"wrote {out}" in done.stdout
    return out


@pytest.mark.ui
def test_every_chart_renders_offline_in_chromium(full_report: Path, chromium_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is in the test extras")
    artifacts = harness.artifacts_dir("test_report_every_chart_renders_offline")
    charts = charts_of(full_report.read_text(encoding="utf-8"))
    drawn = [c for c in charts if not c.empty]
    assert len(drawn) >= 20 and all(c.svgs == 1 for c in drawn), [(c.section, c.key, c.svgs) for c in charts]
    assert {c.key for c in drawn} >= {"coverage", "nav", "returns", "allocation_now", "allocation_history", "positions"}
    assert all(c.svgs == 0 for c in charts if c.empty)
    requested: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True,
                                             args=harness.CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000}, offline=True)

            def block(route: Any) -> None:  # the network is closed: anything but the file itself is refused
                requested.append(route.request.url)
                route.abort() if not route.request.url.startswith("file://") else route.continue_()

            context.route("**/*", block)
            page = context.new_page()
            page.goto(full_report.as_uri())
            figures = page.locator("figure.chart")
            assert figures.count() == len(charts)
            for i in range(figures.count()):
                figure = figures.nth(i)
                if figure.get_attribute("data-empty") == "true":
                    assert figure.locator("p.empty").inner_text().strip()
                    continue
                svg = figure.locator("svg")
                assert svg.count() == 1
                box = svg.bounding_box()
                assert box is not None and box["width"] > 200 and box["height"] > 100, (i, box)
                assert svg.locator("path, rect, line").count() > 5  # marks were drawn, not an empty frame
            page.screenshot(path=str(artifacts / "report-top.png"))
            for i in range(min(figures.count(), 10)):
                figures.nth(i).screenshot(path=str(artifacts / f"chart-{i:02d}-{charts[i].key}.png"))
        finally:
            browser.close()
    assert [u for u in requested if not u.startswith("file://")] == []


def test_the_nav_curve_ends_on_nav_by_account(full_report: Path, report_work: Workdir) -> None:
    charts = charts_of(full_report.read_text(encoding="utf-8"))
    accounts = [a for (a,) in report_work.query("select account_id from account_base_currency order by 1")]
    assert accounts
    for account in accounts:
        (nav,) = [c for c in charts if c.section == f"account-{account.lower()}" and c.key == "nav"]
        last = nav.data["nav_and_returns"][-1]
        expected = report_work.query(
            f"select snapshot_date::varchar, nav from nav_by_account where account_id = '{account}' "
            "order by snapshot_date desc limit 1")[0]
        assert (last["nav_date"], last["nav"]) == pytest.approx(expected, abs=1e-6), account


def test_the_reports_numbers_are_the_views_numbers(report_work: Workdir) -> None:
    out = report_work.root / "one-account.html"
    done = report_work.run(["report", "--account", ACCOUNT, "--from", START, "--to", END, "--out", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    charts = {c.key: c for c in charts_of(out.read_text(encoding="utf-8")) if c.section != "coverage"}
    assert {c.section for c in charts_of(out.read_text(encoding="utf-8"))} == {"coverage", f"account-{ACCOUNT.lower()}"}
    period = f"between '{START}' and '{END}'"

    # NAV and returns: the view's NAV and daily returns; the period's return compounded here independently.
    views = report_work.query(f"select nav_date::varchar, nav, daily_return from nav_and_returns "
                              f"where account_id = '{ACCOUNT}' and nav_date {period} order by nav_date")
    shown = charts["nav"].data["nav_and_returns"]
    assert [(r["nav_date"], r["nav"], r["daily_return"]) for r in shown] == views
    compounded, growth = [], 1.0
    for i, (_, _, daily) in enumerate(views):
        growth *= 1.0 if i == 0 else 1.0 + daily
        compounded.append(growth - 1.0)
    assert [r["period_return"] for r in shown] == pytest.approx(compounded, abs=1e-12)

    # Allocation: per date, dimension and bucket, the view's value.
    allocation = report_work.query(f"select snapshot_date::varchar, dimension, bucket, sum(value_base) "
                                   f"from allocation_by_date where account_id = '{ACCOUNT}' and snapshot_date {period} "
                                   "group by all")
    shown_alloc = {(r["snapshot_date"], r["dimension"], r["bucket"]): r["value_base"]
                   for r in charts["allocation_now"].data["allocation_by_date"]}
    assert shown_alloc == pytest.approx({(d, k, b): v for d, k, b, v in allocation}) and shown_alloc

    # Largest positions: each one's base values as position_values has them on the last snapshot.
    positions = charts["positions"].data["position_values"]
    assert positions
    for row in positions:
        market, unrealized = report_work.query(
            f"select sum(base_market_value), sum(coalesce(base_unrealized_pnl, 0)) from position_values "
            f"where account_id = '{ACCOUNT}' and conid = {row['conid']} and snapshot_date = '{row['snapshot_date']}'")[0]
        assert (row["market_value_base"], row["unrealized_pnl_base"]) == pytest.approx((market, unrealized))
    values = [abs(r["market_value_base"]) for r in positions]
    assert values == sorted(values, reverse=True)

    # Coverage: the view's status per dataset and date.
    coverage = {(r["table_name"], r["coverage_date"]): r["status"] for r in
                next(c for c in charts_of(out.read_text(encoding="utf-8")) if c.key == "coverage").data["dataset_coverage"]}
    expected = report_work.query(f"select table_name, coverage_date::varchar, status from dataset_coverage "
                                 f"where coverage_date {period} and nightly")
    assert expected and all(coverage[(t, d)] == s for t, d, s in expected)

    # And the SQL printed under the NAV chart gives the same numbers through `ibkr-pipelines sql`.
    page = out.read_text(encoding="utf-8")
    nav_figure = page[page.index(f'<section id="account-{ACCOUNT.lower()}">'):]
    sql = re.search(r'<pre>ibkr-pipelines sql "(.*?)"</pre>', nav_figure, re.S).group(1)
    assert "FROM nav_and_returns" in sql
    printed = report_work.run(["sql", html.unescape(sql)])
    assert printed.returncode == 0, printed.stderr[-2000:]
    for _, nav, _ in views:
        assert f"{nav}" in printed.stdout or f"{nav:.2f}" in printed.stdout, (nav, printed.stdout[-2000:])


def test_a_benchmark_without_bars_is_one_line(report_work: Workdir) -> None:
    done = report_work.run(["report", "--benchmark", "999999999", "--out", str(report_work.root / "x.html")])
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "--benchmark (IBKR_REPORT_BENCHMARK): conid 999999999 has no bars" in done.stderr
    bad = report_work.run(["report", "--out", str(report_work.root / "x.html")], IBKR_REPORT_BENCHMARK="SPY")
    assert bad.returncode == 2 and "IBKR_REPORT_BENCHMARK" in bad.stderr and "'SPY'" in bad.stderr


def test_the_dagster_asset_writes_the_report_and_shows_its_pictures(report_work: Workdir,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from assets.definitions import defs
    from assets.report import REPORT_KEY, portfolio_report
    from assets.resources import WarehouseResource

    assert defs.resolve_sensor_def("report_after_nightly") is not None
    monkeypatch.setenv("IBKR_DATA_DIR", str(report_work.db.parent))
    result = dg.materialize([portfolio_report], resources={"warehouse": WarehouseResource()})
    (event,) = result.asset_materializations_for_node(REPORT_KEY.to_python_identifier())
    path = Path(event.metadata["path"].value)
    assert path == report_work.db.parent / "reports" / "portfolio-report.html" and path.exists()
    for picture in ("nav_picture", "coverage_picture"):
        assert event.metadata[picture].value.startswith("![") and "data:image/png;base64,iVBOR" in event.metadata[picture].value
