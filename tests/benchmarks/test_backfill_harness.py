"""The backfill benchmark's harness works end to end on a short range (its timing bars are the
benchmark's business, measured by `make bench-backfill`, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ibkr_pipelines.sources import nightly_tables
from tests.fast_limits import FAST_LIMITS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_a_two_day_backfill_is_one_run_with_every_step_and_no_429() -> None:
    done = subprocess.run(
        # The tests' fast limits on both sides: the harness is under test here, not IBKR's pacing (two days
        # at IBKR's limits took ~120 s, mostly the trades endpoint's 1 per 5 s; `make bench-backfill` measures that).
        [sys.executable, "-m", "benchmarks.backfill.run", "--days", "2", "--limits", FAST_LIMITS],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["success"] is True and measured["throttled"] == 0
    assert measured["window"] == "2026-11-19..2026-11-20" and measured["limits"] == FAST_LIMITS
    steps = set(measured["steps"])
    assert {f"stage_{s}" for s in ("accounts", "account_summary", "ledger", "positions", "allocation", "contracts")} <= steps
    # every table of the night through the multiprocess executor (tests/pipeline/test_multiprocess.py runs three)
    assert {f"warehouse__{t}" for t in nightly_tables()} <= steps
    assert measured["requests"] > 0 and measured["pacing_floor_seconds"] > 0
    assert measured["binding_scope"] in ("portfolio_accounts", "portfolio_subaccounts", "global")
