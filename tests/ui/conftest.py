"""Fixtures of the UI tests: ``dagster_dev`` (this project's `dagster dev`, stopped with everything it started)
and ``page`` (headless Debian chromium through Playwright). See ``harness.py``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.ui import harness
from tests.ui.harness import DagsterDev, start_dagster_dev, stop_dagster_dev, wait_ready


@pytest.fixture
def ui_artifacts(request: pytest.FixtureRequest) -> Path:
    """Where this test's screenshots, trace and `dagster dev` log go: test-artifacts/ui/<test name>/."""
    return harness.artifacts_dir(request.node.name)


@pytest.fixture
def dagster_dev(tmp_path: Path, ui_artifacts: Path) -> Iterator[DagsterDev]:
    """`dagster dev` on this project, in a temporary folder, on a free loopback port; stopped with everything it started."""
    (tmp_path / "dagster_home").mkdir()
    shutil.copy(harness.ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home" / "dagster.yaml")
    log = ui_artifacts / "dagster-dev.log"
    marker = f"IBKR_UI_TEST_PROCESS={uuid.uuid4().hex}"
    for attempt in range(3):  # the free port can be taken between choosing and binding it: try another
        dev = start_dagster_dev(tmp_path, log, marker)
        try:
            wait_ready(dev)
            break
        except RuntimeError:
            port_taken = "address already in use" in dev.log_tail().lower()
            stop_dagster_dev(dev)
            if not port_taken or attempt == 2:
                raise
    try:
        yield dev
    finally:
        problems = stop_dagster_dev(dev)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium, or a skip that says why it is missing."""
    chromium = harness.CHROMIUM
    if not chromium.exists():
        pytest.skip(f"Debian's chromium is not installed at {chromium} (`make system-deps` installs it as root "
                    "with apt-get; Playwright's own browser download cannot be fetched here)")
    return chromium


@pytest.fixture
def page(chromium_path: Path, ui_artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Playwright page in headless Debian chromium; a trace is kept in the artifacts when the test fails."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is in the test extras "
                                   "(pip install -e '.[test]')")
    marker = f"IBKR_UI_TEST_BROWSER={uuid.uuid4().hex}"
    name, value = marker.split("=", 1)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=harness.CHROMIUM_FLAGS, env={**os.environ, name: value},
        )
        try:
            context = browser.new_context(viewport=harness.VIEWPORT)
            context.set_default_timeout(60_000)
            context.tracing.start(screenshots=True, snapshots=True)
            page = context.new_page()
            yield page
            failed = getattr(request.node, "ui_call_failed", True)
            context.tracing.stop(path=str(ui_artifacts / "trace.zip") if failed else None)
            context.close()
        finally:
            browser.close()
    leftovers = harness.wait_until_gone(marker, harness.LEFTOVER_GRACE_SECONDS)
    assert not leftovers, f"chromium processes left after the browser closed: {leftovers}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Tell the ``page`` fixture whether the test body failed (it keeps a trace only then)."""
    report = yield
    if report.when == "call":
        item.ui_call_failed = report.failed  # type: ignore[attr-defined]
    return report
