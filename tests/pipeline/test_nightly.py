"""The nightly job lands every dataset, the numbers reconcile, and re-runs converge."""

from __future__ import annotations

import datetime
from pathlib import Path

import dagster as dg

from tests.fast_limits import FAST_GLOBAL_PER_SECOND
from tests.pipeline.conftest import DATA_TABLES, FRIDAY, MONDAY, Pipeline, open_pipeline
from ibkr_pipelines.schemas import Reach, spec_for
from ibkr_pipelines.sources import source_of

PNG_IMAGE = "](data:image/png;base64,iVBORw0KGgo"  # a Markdown image whose data begins with the PNG signature


def test_every_table_lands_rows(landed: Pipeline) -> None:
    for table in DATA_TABLES:
        (count,) = landed.query(f"select count(*) from {table}")[0]
        assert count > 0, table
    assert landed.query("select count(*) from quarantine")[0][0] == 0


def test_positions_plus_cash_equal_the_ledger_nav_for_every_account(landed: Pipeline) -> None:
    rows = landed.query("select account_id, nav, cash, positions_value, difference from nav_by_account")
    assert {r[0] for r in rows} == {a.id for a in landed.simulator.world.accounts}
    for account_id, nav, cash, positions_value, difference in rows:
        assert abs(cash + positions_value - nav) < 0.01, account_id
        assert abs(difference) < 0.01, account_id
    summary_vs_ledger = landed.query(
        """select s.account_id, s.amount, l.net_liquidation_value from account_summary s
           join ledger l using (snapshot_date, account_id)
           where s.metric = 'netliquidation' and l.currency = 'BASE'"""
    )
    assert len(summary_vs_ledger) == len(rows)
    for account_id, summary_nav, ledger_nav in summary_vs_ledger:
        assert abs(summary_nav - ledger_nav) < 0.01, account_id


def test_positions_equal_the_worlds_cumulative_executions(landed: Pipeline) -> None:
    world = landed.simulator.world
    for account in world.accounts:
        expected = {conid: qty for conid, qty in world.positions_as_of(account.id, FRIDAY).items() if qty}
        landed_rows = landed.query(
            f"select conid, position from positions where account_id = '{account.id}' and snapshot_date = '{FRIDAY}'"
        )
        assert {conid: qty for conid, qty in landed_rows} == expected, account.id


def test_contracts_cover_every_conid_held(landed: Pipeline) -> None:
    missing = landed.query("select distinct conid from positions except select conid from contracts")
    assert missing == []


def test_materializations_carry_counts_schema_partition_and_traffic(landed: Pipeline) -> None:
    events = landed.result.get_asset_materialization_events()  # type: ignore[attr-defined]
    by_key = {"/".join(e.event_specific_data.materialization.asset_key.path): e for e in events}
    pictures = 0
    assert set(by_key) == {f"lake/{t}_parquet" for t in DATA_TABLES} | {f"warehouse/{t}" for t in DATA_TABLES}
    for key, event in by_key.items():
        metadata = event.event_specific_data.materialization.metadata
        assert metadata["dagster/row_count"].value > 0, key
        assert isinstance(metadata["dagster/column_schema"].value, dg.TableSchema)
        assert metadata["partition"].value == FRIDAY.isoformat()
        assert event.event_specific_data.materialization.partition == FRIDAY.isoformat()
        table = key.split("/")[1].removesuffix("_parquet")
        if key.startswith("lake/") and source_of(table).tables[0] == table:  # a source's traffic: on its first table
            assert metadata["ibkr_requests"].value > 0
            assert metadata["ibkr_429s"].value == 0
            # A picture where the requests outnumber one window of the (tests') global limit, else a sentence.
            timeline = metadata["pacing_timeline"].value
            assert (PNG_IMAGE in timeline) == (metadata["ibkr_requests"].value > FAST_GLOBAL_PER_SECOND), key
            pictures += PNG_IMAGE in timeline
        if key.startswith("warehouse/"):
            assert metadata["warehouse_lock_wait_seconds"].value == 0.0, "nothing else held the DuckDB file"
            # A picture from two loaded dates on (a 7-day span's load); one date is told in a sentence.
            over_time = metadata["rows_over_time"].value
            if source_of(table).span_days > 1:
                assert PNG_IMAGE in over_time, key
            else:
                assert over_time.startswith(f"Only {FRIDAY} of `{table}` has been loaded"), key
        elif source_of(table).span_days > 1:
            assert metadata["dates_landed"].value == f"{FRIDAY - datetime.timedelta(days=6)}..{FRIDAY}"
    assert pictures >= 1, "the night's bars (a request per conid) outnumber one window: drawn"


def test_asset_checks_pass_on_clean_data(landed: Pipeline) -> None:
    results = landed.result.get_asset_check_evaluations()  # type: ignore[attr-defined]
    names = {("/".join(r.asset_key.path), r.check_name) for r in results}
    expected = {(f"warehouse/{t}", c) for t in DATA_TABLES for c in ("natural_key_unique", "no_quarantined_rows")}
    expected |= {(f"warehouse/{t}", "analyst_columns_complete") for t in DATA_TABLES if spec_for(t).analyst_columns}
    expected |= {(f"warehouse/{t}", "no_uncovered_dates") for t in DATA_TABLES if spec_for(t).reach is Reach.RECENT}
    assert ("warehouse/executions", "no_uncovered_dates") in expected
    expected.add(("warehouse/ledger", "nav_reconciles"))
    expected.add(("warehouse/executions", "executions_match_flex"))  # passes: a night lands no Flex to compare
    assert names == expected
    assert [r.check_name for r in results if not r.passed] == []


def test_views_answer(landed: Pipeline) -> None:
    assert landed.query("select count(*) from positions_latest")[0][0] > 0
    exposure = landed.query("select count(*) from exposure_by_asset_class")[0][0]
    currencies = landed.query("select count(distinct currency) from exposure_by_currency")[0][0]
    assert exposure > 0 and currencies >= 4


def test_raw_answers_are_archived_compressed(landed: Pipeline) -> None:
    raw = landed.root / "data" / "raw" / FRIDAY.isoformat()
    bodies = list(raw.rglob("*.json.gz"))
    assert bodies, "raw payloads are archived"
    assert not any("tickle" in str(p) or "auth" in str(p) for p in bodies), "session answers are not archived"


def _snapshot(pipeline: Pipeline) -> dict[str, list[tuple]]:
    return {t: sorted(pipeline.query(f"select * from {t}"), key=repr) for t in DATA_TABLES}


def test_rerunning_a_date_is_idempotent_and_two_dates_are_kept(tmp_path: Path) -> None:
    for pipeline in open_pipeline(tmp_path):
        assert pipeline.run(FRIDAY).success
        first = _snapshot(pipeline)
        assert pipeline.run(FRIDAY).success
        assert _snapshot(pipeline) == first, "the same date twice leaves every table identical"
        monday = pipeline.run(MONDAY)
        assert monday.success
        for event in monday.get_asset_materialization_events():
            if event.event_specific_data.materialization.asset_key.path[0] == "warehouse":  # two dates: a picture
                assert PNG_IMAGE in event.event_specific_data.materialization.metadata["rows_over_time"].value
        dates = pipeline.query("select distinct snapshot_date from positions order by 1")
        assert [d for (d,) in dates] == [FRIDAY, MONDAY]
        friday_again = pipeline.query(f"select count(*) from positions where snapshot_date = '{FRIDAY}'")
        assert friday_again[0][0] == len(first["positions"])


def test_a_position_without_conid_is_quarantined_and_the_rest_lands(tmp_path: Path) -> None:
    for pipeline in open_pipeline(tmp_path, inject_position_without_conid=True):
        assert pipeline.run(FRIDAY).success
        quarantined = pipeline.query("select table_name, reason, row_json from quarantine")
        assert len(quarantined) == 1
        table, reason, row_json = quarantined[0]
        assert table == "positions" and "conid" in reason
        world = pipeline.simulator.world
        held = sum(sum(1 for q in world.positions_as_of(a.id, FRIDAY).values() if q) for a in world.accounts)
        landed_count = pipeline.query("select count(*) from positions")[0][0]
        assert landed_count == held - 1, "every other row landed"
        failed = [r for r in pipeline.run(FRIDAY).get_asset_check_evaluations() if not r.passed]
        # The quarantined row is missing from NAV too: the reconciliation sees what the row count did not.
        assert sorted((r.asset_key.path[1], r.check_name) for r in failed) == [
            ("ledger", "nav_reconciles"),
            ("positions", "no_quarantined_rows"),
        ]


def test_the_account_filter_lands_only_those_accounts(tmp_path: Path) -> None:
    for pipeline in open_pipeline(tmp_path, env={"IBKR_ACCOUNT_IDS": "U7000012,U7000099"}):
        assert pipeline.run(FRIDAY).success
        for table in ("accounts", "ledger", "positions"):
            found = {a for (a,) in pipeline.query(f"select distinct account_id from {table}")}
            assert found == {"U7000012", "U7000099"}, table


def test_the_watchlist_resolves_to_the_worlds_conids(landed: Pipeline) -> None:
    world = landed.simulator.world
    expected = {(s, world.by_symbol[s][0].conid) for s in ("AAPL", "SPY", "ASML")}
    assert set(landed.query("select entry, conid from watchlist")) == expected
