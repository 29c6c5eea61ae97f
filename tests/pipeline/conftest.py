"""Runs the nightly job in-process against an embedded simulator, into a temporary data folder."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import duckdb
import pytest

from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import sharing_simulator, start_embedded_simulator
from tests.fast_limits import FAST_LIMITS, TEST_BAR_SIZES, WATCHLIST
from ibkr_pipelines.sources import nightly_tables

FRIDAY = datetime.date(2026, 11, 20)
MONDAY = datetime.date(2026, 11, 23)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DATA_TABLES = tuple(nightly_tables())


@dataclass
class Pipeline:
    """A data folder, its simulator, and a way to run the nightly job for a date."""

    root: Path
    simulator: Any

    @property
    def db(self) -> Path:
        return self.root / "data" / "ibkr.duckdb"

    def run(self, day: datetime.date, *, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        from assets.definitions import defs

        with sharing_simulator(self.simulator):
            return defs.resolve_job_def("nightly_ingestion").execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), partition_key=day.isoformat(), run_config=QUIET,
                raise_on_error=raise_on_error,
            )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()


def open_pipeline(root: Path, env: dict[str, str] | None = None, **simulator_options: Any) -> Iterator[Pipeline]:
    """Environment + simulator for one pipeline; a fast global limit keeps tests quick."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        mp.delenv("IBKR_BASE_URL", raising=False)
        mp.setenv("IBKR_DATA_DIR", str(root / "data"))
        mp.setenv("IBKR_PACING_DIR", str(root / "pacing"))
        mp.setenv("IBKR_LIMITS", FAST_LIMITS)
        mp.setenv("IBKR_WATCHLIST", WATCHLIST)
        mp.setenv("IBKR_BAR_SIZES", TEST_BAR_SIZES)
        mp.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)  # the simulator's own setting: it ignores IBKR_LIMITS
        simulator = start_embedded_simulator(Settings.from_env(), FRIDAY, **simulator_options)
        try:
            yield Pipeline(root=root, simulator=simulator)
        finally:
            simulator.stop()


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """One pipeline with Friday already landed."""
    for pipeline in open_pipeline(tmp_path_factory.mktemp("landed")):
        result = pipeline.run(FRIDAY)
        assert result.success
        pipeline.result = result  # type: ignore[attr-defined]
        yield pipeline
