"""The console script as a user runs it: ingest prints what landed; sql reads; bad config is one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ibkr_pipelines.sources import nightly_tables
from tests.fast_limits import WATCHLIST

ROOT = Path(__file__).resolve().parents[2]
TABLES = tuple(nightly_tables())


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IBKR_", "DAGSTER_"))}
    clean.update(env)
    exe = Path(sys.executable).with_name("ibkr-pipelines")
    return subprocess.run([str(exe), *args], cwd=cwd, env=clean, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli")
    (work / "dagster_home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", work / "dagster_home" / "dagster.yaml")
    return work


@pytest.fixture(scope="module")
def ingested(workdir: Path) -> subprocess.CompletedProcess[str]:
    """One `ibkr-pipelines ingest` with IBKR's real gateway limits, as `make demo` runs it."""
    return _cli(["ingest", "--date", "2026-11-20"], workdir, IBKR_PACING_DIR=str(workdir / "pacing"),
                IBKR_WATCHLIST=WATCHLIST)


@pytest.mark.slow
def test_ingest_prints_every_table_and_zero_429s(workdir: Path, ingested: subprocess.CompletedProcess[str]) -> None:
    done = ingested
    assert done.returncode == 0, done.stderr[-3000:]
    assert "embedded IBKR simulator" in done.stderr
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.split()}
    for table in TABLES:
        assert int(lines[table][1]) > 0, f"{table} landed no rows:\n{done.stdout}"
    assert "answered 0 with 429" in done.stdout
    assert (workdir / "data" / "ibkr.duckdb").exists()
    runs = list((workdir / "dagster_home").rglob("runs.db")) + list((workdir / "dagster_home").rglob("*.db"))
    assert runs, "the run is recorded on the persistent Dagster instance (shows in the UI)"


@pytest.mark.slow
def test_sql_reads_the_warehouse_and_refuses_writes(workdir: Path, ingested: subprocess.CompletedProcess[str]) -> None:
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    done = _cli(["sql", "select account_id, round(difference, 2) as d from nav_by_account order by 1"], workdir)
    assert done.returncode == 0, done.stderr
    assert "F7000001" in done.stdout and "U7000099" in done.stdout
    refused = _cli(["sql", "delete from positions"], workdir)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and len(refused.stderr.strip().splitlines()) == 1


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    done = _cli(["ingest", "--date", "2026-11-20"], tmp_path, IBKR_VERIFY_TLS="sometimes")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: IBKR_VERIFY_TLS: must be true or false, got 'sometimes'"


def test_unknown_select_is_refused(tmp_path: Path) -> None:
    done = _cli(["ingest", "--select", "trades"], tmp_path)
    assert done.returncode == 2
    assert "--select" in done.stderr and "positions" in done.stderr
