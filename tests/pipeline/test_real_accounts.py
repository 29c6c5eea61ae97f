"""What a real account throws at the pipeline, simulated: a paper FA master with 150 sub-accounts, TWS holding
the brokerage session, millisecond timestamps, rows that keep coming without definitions, a stale
position cache, model portfolios, virtual FX, a lost login and a penalty longer than the idle timeout."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.pipeline.conftest import DATA_TABLES, FRIDAY, Pipeline, open_pipeline

HARD_WORLD = {
    "paper": True,
    "extra_subaccounts": 150,
    "competing": True,
    "summary_timestamp_unit": "ms",
    "sparse_positions": "persistent",
    "virtual_fx_positions": True,
    "model_portfolios": True,
}


def _tables(pipeline: Pipeline) -> dict[str, list[tuple]]:
    return {t: sorted(pipeline.query(f"select * from {t}"), key=repr) for t in DATA_TABLES}


@pytest.mark.slow
def test_a_paper_fa_with_150_sub_accounts_lands_whole_without_taking_the_session(tmp_path: Path) -> None:
    for pipeline in open_pipeline(tmp_path, **HARD_WORLD):
        result = pipeline.run(FRIDAY, raise_on_error=False)
        # TWS holds the brokerage session: the datasets that need /iserver fail with one line each...
        failures = {e.step_key: e.step_failure_data.error.message for e in result.all_events if e.is_step_failure}
        assert set(failures) == {"stage_executions", "stage_orders", "stage_bars"}  # history is /iserver too
        for message in failures.values():
            assert "another platform (TWS or the IBKR mobile app) holds this login's brokerage session" in message
            assert "IBKR_COMPETE=true" in message and len(message.strip().splitlines()) == 1
        # ... and every other dataset lands (contracts included: it reads executions only where landed).
        loaded = {e.asset_key.path[-1] for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "warehouse"}
        assert loaded == set(DATA_TABLES) - {"executions", "orders", "bars"}
        world = pipeline.simulator.world
        visible = {a.id for a in world.accounts}
        assert len(visible) == 156 and all(a.startswith(("DF", "DU")) for a in visible)
        assert {a for (a,) in pipeline.query("select account_id from accounts")} == visible
        assert {a for (a,) in pipeline.query("select distinct account_id from ledger")} == visible
        held = {a.id for a in world.accounts if world.positions_as_of(a.id, FRIDAY)}
        assert {a for (a,) in pipeline.query("select distinct account_id from positions")} == held
        assert pipeline.query("select count(*) from accounts where is_master") == [(1,)]
        # TWS holds the brokerage session: nothing here needed it, and nothing took it.
        assert pipeline.simulator.stats()["session"]["ssodh_init"] == {"compete_true": 0, "compete_false": 0}
        # Persistent sparse reads: every row completed from /trsrv/secdef, none landed bare or quarantined.
        assert pipeline.query("select count(*) from positions where ticker is null or name is null") == [(0,)]
        assert pipeline.query("select count(*) from quarantine") == [(0,)]
        # Millisecond summary timestamps read as the same instants as seconds would be.
        assert pipeline.query("select count(*) from account_summary where reported_at is null") == [(0,)]
        assert pipeline.query("select min(year(reported_at)), max(year(reported_at)) from account_summary") == [
            (FRIDAY.year, FRIDAY.year)
        ]
        # One conid through two models is two rows; CASH rows are not counted twice: NAV reconciles.
        assert pipeline.query("select count(*) from positions where model <> ''")[0][0] > 0
        assert pipeline.query("select count(*) from positions where asset_class = 'CASH'")[0][0] > 0
        assert pipeline.query("select count(*) from nav_by_account where abs(difference) > 0.01") == [(0,)]
        assert [c.check_name for c in result.get_asset_check_evaluations() if not c.passed] == []


@pytest.mark.slow
def test_positions_are_current_when_one_session_serves_two_dates(tmp_path: Path) -> None:
    for pipeline in open_pipeline(tmp_path):
        assert pipeline.run(FRIDAY).success
        monday = FRIDAY.replace(day=FRIDAY.day + 3)
        assert pipeline.run(monday).success  # same simulator session: its position cache holds Friday
        world = pipeline.simulator.world
        for account in world.accounts:
            expected = {c: q for c, q in world.positions_as_of(account.id, monday).items()}
            landed = dict(
                pipeline.query(
                    f"select conid, sum(position) from positions where account_id = '{account.id}' "
                    f"and snapshot_date = DATE '{monday}' and asset_class <> 'CASH' group by 1"
                )
            )
            assert landed == pytest.approx(expected), account.id


@pytest.mark.slow
def test_a_lost_login_and_a_long_penalty_change_nothing_landed(tmp_path: Path) -> None:
    # The simulator says how long its box lasts (Retry-After); without it the client assumes IBKR's 10 minutes.
    for pipeline in open_pipeline(tmp_path, idle_timeout_seconds=2.0, send_retry_after=True):
        assert pipeline.run(FRIDAY).success
        first = _tables(pipeline)
        # The gateway's login expires and the user logs in again before the next run.
        pipeline.simulator.expire_login()
        pipeline.simulator.login()
        assert pipeline.run(FRIDAY).success
        assert _tables(pipeline) == first
        # A penalty box on everything, longer than the session's idle timeout, in the middle of a run.
        timer = threading.Timer(1.0, pipeline.simulator.force_penalty, args=("global", 3.0))
        timer.start()
        try:
            again = pipeline.run(FRIDAY)
        finally:
            timer.cancel()
        assert again.success
        assert _tables(pipeline) == first
        assert pipeline.simulator.stats()["session"]["ssodh_init"]["compete_true"] == 0
