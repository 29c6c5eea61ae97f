"""The path UI-launched runs take: one process per step (each with its own embedded simulator),
DuckDB loads serialised by the duckdb_writer pool, on a persistent instance."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.definitions import nightly_ingestion_job
from ibkr_pipelines.sources import nightly_tables
from tests.fast_limits import FAST_LIMITS, WATCHLIST

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_multiprocess_run_lands_every_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    for name in [k for k in os.environ if k.startswith("IBKR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("IBKR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
    monkeypatch.setenv("IBKR_LIMITS", FAST_LIMITS)
    monkeypatch.setenv("IBKR_WATCHLIST", WATCHLIST)
    monkeypatch.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(nightly_ingestion_job), instance=instance, tags={"dagster/partition": "2026-11-20"}
        )
        assert result.success
        assert len(result.get_asset_materialization_events()) == 2 * len(nightly_tables())
    with duckdb.connect(str(tmp_path / "data" / "ibkr.duckdb"), read_only=True) as con:
        for table in nightly_tables():
            assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        differences = con.execute("select max(abs(difference)) from nav_by_account").fetchone()[0]
    assert differences < 0.01
