"""An operator backfills a range of a daily-partitioned dataset from the Dagster UI, in a real browser.

The test opens the asset graph, then the asset's page, and from its Lineage tab (Upstream) clicks
"Materialize all…", which selects the asset and the lake asset it loads from. In the launch dialog it
types the partition range, launches the backfill, follows the toast to the backfill's page and
waits there until the UI says it succeeded. Then it checks, outside the browser, that the backfill
was ONE run over the whole range (``BackfillPolicy.single_run``) and that the DuckDB table holds rows
for exactly the range's dates. Screenshots go to ``test-artifacts/ui/<test name>/``.

TARGET is the one line to change for another daily-partitioned warehouse asset (issue 10: ``bars``,
30 days). Steps and selectors that worked in Dagster 1.13's UI are noted where they are used.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ibkr_pipelines.schemas import spec_for
from tests.ui.harness import DagsterDev

pytest.importorskip("playwright", reason="Playwright's Python package is in the test extras (pip install -e '.[test]')")
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402


@dataclass(frozen=True)
class BackfillTarget:
    """A warehouse asset (``warehouse/<table>``) and the range of New York dates to backfill.

    The operator materializes what the asset's Lineage tab shows upstream: the asset and the lake
    asset it loads from (graph depth 1), or, with ``whole_upstream``, every asset upstream of it (the
    "All" depth), for a dataset whose extraction reads other lake tables of the same dates.
    """

    asset: str
    first: dt.date
    last: dt.date
    whole_upstream: bool = False

    @property
    def key_path(self) -> list[str]:
        return self.asset.split("/")

    @property
    def table(self) -> str:
        """The DuckDB table the asset lands (its key's last part)."""
        return self.key_path[-1]

    @property
    def partitions(self) -> list[str]:
        """Every partition key of the range (a daily partition per date, weekends included)."""
        days = (self.last - self.first).days + 1
        return [(self.first + dt.timedelta(days=i)).isoformat() for i in range(days)]

    @property
    def expected_dates(self) -> set[dt.date]:
        """Dates the table must hold afterwards, at least: the range's weekdays (pick a range without exchange holidays).

        A daily snapshot lands on weekends too when asked; bars exist on trading days, plus the Sunday
        evenings on which forex and futures sessions open (their New York date).
        """
        return {dt.date.fromisoformat(p) for p in self.partitions if dt.date.fromisoformat(p).weekday() < 5}


# 30 days of bars (the harness asks for 1d and 1h bars); the whole upstream, because bars' universe
# is the positions and watchlist in the lake, and a fresh Dagster home has none.
TARGET = BackfillTarget("warehouse/bars", dt.date(2026, 10, 22), dt.date(2026, 11, 20), whole_upstream=True)

BACKFILL_TIMEOUT_SECONDS = 6 * 60
# The backfill page's status tag (BulkActionStatus as the UI words it).
RUNNING_STATUSES = {"Requested", "In progress", "Canceling", "Failing"}

BACKFILL_QUERY = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions
      runs(limit: 100) {
        runId status
        tags { key value }
        assetSelection { path }
      }
    }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}
"""
ASSET_QUERY = """
query Asset($path: [String!]!) {
  assetNodes(assetKeys: [{path: $path}]) {
    assetKey { path } groupName dependencyKeys { path }
    partitionDefinition { type }
    backfillPolicy { policyType }
  }
}
"""


def wait_for_statuses(page: Any) -> None:
    """Until the graph's nodes stop saying "(fetching statuses)" or "Loading...", so a screenshot shows them."""
    fetching = page.get_by_text(re.compile(r"fetching statuses|^Loading"))
    deadline = time.monotonic() + 60
    while fetching.count() and time.monotonic() < deadline:
        page.wait_for_timeout(250)


def shoot(page: Any, folder: Path, name: str) -> Path:
    """Save a screenshot of the viewport as ``<name>.png`` in the test's artifacts."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def dismiss_first_visit_dialog(page: Any) -> None:
    """A fresh Dagster home greets the first visitor with "Join the Dagster community"; skip it whenever it shows."""
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )


def open_launch_dialog(page: Any) -> Any:
    """Click through the confirmations the UI may ask for until the partition dialog is open; return it."""
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    confirm = page.get_by_role("dialog").filter(has=page.get_by_role("button", name="Confirm"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if dialog.is_visible():
            return dialog
        # "Are you sure?" (an upstream asset never materialized) or a multi-asset's required outputs.
        if confirm.is_visible():
            confirm.get_by_role("button", name="Confirm").click()
        page.wait_for_timeout(250)
    raise AssertionError("the launch dialog did not open")


def backfill_status(page: Any) -> str:
    """The status tag beside "Status" in the backfill page's header."""
    text = page.get_by_text("Status", exact=True).locator("xpath=..").inner_text()
    return text.replace("Status", "", 1).strip()


def wait_for_backfill(page: Any, timeout: float) -> str:
    """Watch the backfill page until its status leaves the running ones (reloading if it sits still)."""
    deadline = time.monotonic() + timeout
    status, since = "", time.monotonic()
    while time.monotonic() < deadline:
        now = backfill_status(page)
        if now and now not in RUNNING_STATUSES:
            return now
        if now != status:
            status, since = now, time.monotonic()
        elif time.monotonic() - since > 30:  # the page polls; a reload is the fallback
            page.reload()
            since = time.monotonic()
        page.wait_for_timeout(2000)
    raise AssertionError(f"the backfill was still {status!r} after {timeout:.0f} s")


def landed_dates(db: Path, table: str) -> set[dt.date]:
    """Distinct partition dates in the table (the spec's partition column, as a date), read-only."""
    column = spec_for(table).partition_column
    assert column, f"{table} is not a dated table"
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute(f'SELECT DISTINCT CAST("{column}" AS DATE) FROM "{table}"').fetchall()}


@pytest.mark.slow
@pytest.mark.ui
@pytest.mark.timeout(BACKFILL_TIMEOUT_SECONDS + 300)
def test_an_operator_backfills_a_range_from_the_asset_page(dagster_dev: DagsterDev, page: Any, ui_artifacts: Path) -> None:
    started = time.monotonic()
    asset = dagster_dev.graphql(ASSET_QUERY, path=TARGET.key_path)["assetNodes"]
    assert asset, f"{TARGET.asset} is not an asset of the code location"
    node = asset[0]
    assert node["partitionDefinition"]["type"] == "TIME_WINDOW" and node["backfillPolicy"]["policyType"] == "SINGLE_RUN"
    upstream = ["/".join(d["path"]) for d in node["dependencyKeys"]]
    dismiss_first_visit_dialog(page)

    # 1. The asset graph (Lineage in the left navigation): every group of the code location.
    page.goto(f"{dagster_dev.url}/asset-groups")
    page.get_by_role("button", name="Materialize all").wait_for()
    page.get_by_text(node["groupName"], exact=True).last.wait_for()
    wait_for_statuses(page)
    shoot(page, ui_artifacts, "01-asset-graph")

    # 2. The asset's page, Lineage tab, Upstream: the asset and what it loads from, with "Materialize all…".
    page.goto(f"{dagster_dev.url}/assets/{TARGET.asset}")
    page.get_by_role("tab", name="Lineage").click()
    page.get_by_role("button", name="Upstream").click()
    depth_all = page.get_by_role("button", name="All", exact=True)  # disabled when depth 1 is all there is
    if TARGET.whole_upstream and depth_all.is_enabled():
        depth_all.click()
    page.get_by_role("button", name="Materialize all").click()
    dialog = open_launch_dialog(page)
    if not TARGET.whole_upstream:
        assert f"materialize {len(upstream) + 1} assets" in dialog.inner_text(), dialog.inner_text()

    # 3. The partition range, typed into the range input ("Custom" is selected by default).
    show_all = dialog.get_by_text("Show all partitions")
    if show_all.is_visible():  # the dialog shows the last 90 days unless asked for all
        show_all.click()
    span = dialog.get_by_role("textbox").first  # its placeholder changes with the view; it is the dialog's only text box
    span.fill(f"[{TARGET.first}...{TARGET.last}]")
    span.press("Enter")
    count = len(TARGET.partitions)
    dialog.get_by_text(f"{count} partitions", exact=True).wait_for()
    shoot(page, ui_artifacts, "02-launch-backfill-dialog")
    dialog.get_by_role("button", name="Launch backfill").click()

    # 4. The toast "Created backfill <id>" links to the backfill's page.
    toast = page.get_by_text(re.compile(r"^Created backfill"))
    toast.wait_for()
    backfill_id = toast.inner_text().split()[-1]
    view = page.get_by_role("button", name="View", exact=True).or_(page.get_by_role("link", name="View", exact=True))
    try:
        view.first.click(timeout=10_000)
    except PlaywrightTimeout:  # the toast went away first: the backfill's address is known
        page.goto(f"{dagster_dev.url}/runs/b/{backfill_id}")
    page.wait_for_url(re.compile(rf"/runs/b/{backfill_id}"))
    page.get_by_text(f"{TARGET.first}…{TARGET.last}").or_(page.get_by_text(f"{TARGET.first}...{TARGET.last}")).first.wait_for()

    # 5. Wait on that page until the backfill is done, as an operator watches it.
    status = wait_for_backfill(page, BACKFILL_TIMEOUT_SECONDS)
    shoot(page, ui_artifacts, "03-backfill-complete")
    page.get_by_role("tab", name="Runs").click()
    run_links = page.get_by_role("link", name=re.compile(r"^run [0-9a-f]{8}$"))  # the run icon names the ID link
    run_links.first.wait_for()
    shoot(page, ui_artifacts, "04-backfill-runs")
    assert run_links.count() == 1, f"the backfill's Runs tab lists {run_links.count()} runs"
    assert status == "Succeeded", f"backfill {backfill_id} ended {status!r}; see {ui_artifacts}"

    # 6. The asset's group in the graph afterwards (the URL the graph's filter box writes for
    # group:"<name>"), in a taller window so a group of a few lake/warehouse pairs fits.
    page.set_viewport_size({"width": 1600, "height": 1400})
    selection = urllib.parse.quote(f'group:"{node["groupName"]}"', safe="")
    page.goto(f"{dagster_dev.url}/asset-groups~{selection}/")
    page.get_by_role("button", name="Materialize all").wait_for()
    page.get_by_text(TARGET.table, exact=True).last.wait_for()
    wait_for_statuses(page)
    page.wait_for_timeout(1000)  # the graph zooms to fit after its layout
    shoot(page, ui_artifacts, "05-asset-group-after")

    # ONE run for the whole range and both assets: what BackfillPolicy.single_run promises.
    backfill = dagster_dev.graphql(BACKFILL_QUERY, id=backfill_id)["partitionBackfillOrError"]
    assert backfill["__typename"] == "PartitionBackfill", backfill
    assert backfill["status"] in {"COMPLETED", "COMPLETED_SUCCESS"} and backfill["numPartitions"] == count, backfill
    runs = backfill["runs"]
    assert len(runs) == 1, f"expected one run for the range, got {len(runs)}: {[r['runId'] for r in runs]}"
    run = runs[0]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS", run
    assert (tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")) == (
        TARGET.partitions[0], TARGET.partitions[-1]), tags
    assert {"/".join(k["path"]) for k in run["assetSelection"]} >= {TARGET.asset, *upstream}, run["assetSelection"]

    # The table, read-only: rows on every weekday of the range, and on no date outside it.
    landed = landed_dates(dagster_dev.db, TARGET.table)
    assert TARGET.expected_dates <= landed <= {dt.date.fromisoformat(p) for p in TARGET.partitions}, sorted(landed)
    print(f"UI backfill {backfill_id} of {TARGET.asset} {TARGET.first}..{TARGET.last}: one run, "
          f"{time.monotonic() - started:.0f} s; screenshots in {ui_artifacts}")
