"""The CLI probed as a careless user and a hostile tester would: each case ends quickly, in one line per
dataset, with no traceback on the terminal, and the warehouse as it was (compared by content hashes)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from ibkr_pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from tests.e2e.cli_helpers import DATA_TABLES, FAST, NIGHT, Workdir, copy_of_night, failure_lines, free_port

DAY = NIGHT  # the session night's date: the probes run on a copy of it


@pytest.fixture(scope="module")
def landed(night: Workdir, tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """A work folder where DAY has landed once, cleanly: a copy of the session's night, which the probes run on."""
    return copy_of_night(night, tmp_path_factory.mktemp("probes"))


def _assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and 'File "' not in stderr, stderr[-3000:]


@pytest.mark.slow
def test_a_gateway_that_is_not_running_is_named_within_seconds(landed: Workdir) -> None:
    before = landed.table_hashes()
    done = landed.run(["ingest", "--date", DAY], IBKR_BASE_URL=f"http://127.0.0.1:{free_port()}/v1/api", timeout=120)
    assert done.returncode == 1
    assert done.seconds < 40, f"took {done.seconds:.0f} s"
    lines = failure_lines(done.stderr)
    assert lines[0].startswith("FAILED accounts: nothing answers at http://127.0.0.1:"), done.stderr
    assert "Client Portal Gateway running there?" in lines[0]
    # Every other dataset says the same line at once (the verdict stands for the run), or was skipped.
    assert all("skipped: " in line or "nothing answers at http://127.0.0.1:" in line for line in lines[1:])
    assert len(lines) == len(DATA_TABLES)
    _assert_no_traceback(done.stderr)
    assert landed.table_hashes() == before


class _LoginPage(BaseHTTPRequestHandler):
    """What a proxy or a half-configured gateway answers: an HTML login page for every path."""

    def _page(self) -> None:
        body = b"<!doctype html><html><head><title>IBKR Login</title></head><body>Log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, *args: object) -> None:  # noqa: D102
        pass


@pytest.fixture
def login_page() -> Iterator[str]:
    """A loopback server answering an HTML login page; yields its /v1/api URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoginPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/api"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_an_html_page_is_called_a_login_page_or_wrong_url(landed: Workdir, login_page: str) -> None:
    before = landed.table_hashes()
    done = landed.run(["ingest", "--date", DAY], IBKR_BASE_URL=login_page, timeout=120)
    assert done.returncode == 1
    assert done.seconds < 30
    first = failure_lines(done.stderr)[0]
    assert "answered a web page ('IBKR Login') instead of IBKR's JSON" in first, done.stderr
    assert "wrong IBKR_BASE_URL" in first
    _assert_no_traceback(done.stderr)
    assert landed.table_hashes() == before


@pytest.mark.slow
def test_endless_5xx_ends_at_the_outage_budget(landed: Workdir) -> None:
    before = landed.table_hashes()
    # The client's fast limits on the simulator too: a client paced faster than the simulator enforces is boxed.
    sim = Simulator(SimulatorConfig(today=dt.date(2026, 11, 20), faults=FaultConfig(p_5xx=1.0), limits_spec=FAST)).start()
    try:
        done = landed.run(
            ["ingest", "--date", DAY], IBKR_BASE_URL=sim.base_url, IBKR_OUTAGE_SECONDS="5", timeout=180
        )
    finally:
        sim.stop()
    assert done.returncode == 1
    assert done.seconds < 45, f"took {done.seconds:.0f} s"
    first = failure_lines(done.stderr)[0]
    assert "IBKR has answered only failures for" in first and "IBKR_OUTAGE_SECONDS=5" in first, done.stderr
    _assert_no_traceback(done.stderr)
    assert landed.table_hashes() == before


@pytest.mark.slow
def test_a_typo_in_the_account_filter_stops_and_wipes_nothing(landed: Workdir) -> None:
    before = landed.table_hashes()
    done = landed.run(["ingest", "--date", DAY], IBKR_ACCOUNT_IDS="U700001l")
    assert done.returncode == 1
    first = failure_lines(done.stderr)[0]
    assert first.startswith("FAILED accounts: IBKR_ACCOUNT_IDS: U700001l not visible to this login; it sees F7000001")
    _assert_no_traceback(done.stderr)
    assert landed.table_hashes() == before


@pytest.mark.slow
def test_one_account_re_run_replaces_that_account_only(landed: Workdir) -> None:
    before = landed.table_hashes()
    done = landed.run(["ingest", "--date", DAY], IBKR_ACCOUNT_IDS="U7000012")
    assert done.returncode == 0, done.stderr[-3000:]
    assert landed.table_hashes() == before, "same date, same world: the other accounts' rows are untouched"
    assert landed.query("SELECT count(DISTINCT account_id) FROM positions") == [(5,)]


def test_a_date_outside_the_partitions_is_one_line(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path)
    done = work.run(["ingest", "--date", "2099-01-01"])
    assert done.returncode == 2
    assert re.fullmatch(
        r"error: --date: 2099-01-01 is not a partition; choose a date from 2025-01-01 to \d{4}-\d\d-\d\d "
        r"\(today in New York\)",
        done.stderr.strip(),
    ), done.stderr
    assert not work.db.exists()


@pytest.mark.slow
def test_sql_cannot_write_files_attach_or_install(landed: Workdir, tmp_path: Path) -> None:
    target = tmp_path / "leak.csv"
    for statement in (
        f"COPY positions TO '{target}'",
        f"ATTACH '{tmp_path / 'other.duckdb'}' AS other",
        "INSTALL httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        "DELETE FROM positions",
    ):
        done = landed.run(["sql", statement])
        assert done.returncode == 2, statement
        assert done.stderr.startswith("error: query failed: ") and len(done.stderr.strip().splitlines()) == 1
    assert not target.exists() and not (tmp_path / "other.duckdb").exists()


@pytest.mark.slow
def test_sql_waits_for_a_load_to_release_the_file(landed: Workdir) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(3); con.close()"
        ), str(landed.db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = landed.run(["sql", "SELECT count(*) AS n FROM positions"], IBKR_WAREHOUSE_LOCK_SECONDS="30")
    finally:
        holder.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "232" in done.stdout
    assert done.seconds >= 2, "it waited for the writer instead of failing"
    assert "waiting for" in done.stderr and "holds it" in done.stderr
