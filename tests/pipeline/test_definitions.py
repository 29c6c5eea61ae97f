"""A snapshot of the code location: assets, groups, pools, partitions, job, schedule, instance config."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from assets.definitions import defs
from assets.factory import DUCKDB_POOL
from ibkr_pipelines.sources import SOURCES, nightly_tables

ROOT = Path(__file__).resolve().parents[2]
REPORT_KEY = dg.AssetKey(["reports", "portfolio_report"])
TABLES = {t for s in SOURCES.values() for t in s.tables}
NIGHTLY = set(nightly_tables())


def test_every_table_has_a_lake_and_a_warehouse_asset_in_its_domain_group() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    # Besides the tables: the portfolio report (assets/report.py), read from the warehouse only.
    assert keys == {f"lake/{t}_parquet" for t in TABLES} | {f"warehouse/{t}" for t in TABLES} | {"reports/portfolio_report"}
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["lake/positions_parquet"] == "portfolio" and groups["warehouse/contracts"] == "reference"


def test_asset_names_are_unique_in_the_graph() -> None:
    """The UI labels a node by the last part of its key: no two nodes may share it."""
    names = [k.path[-1] for k in defs.resolve_asset_graph().get_all_asset_keys()]
    assert len(names) == len(set(names)), sorted(names)


def test_every_asset_backfills_a_range_in_one_run() -> None:
    for assets_def in defs.assets or []:
        if REPORT_KEY in assets_def.keys:  # one report of the whole warehouse, not a partitioned dataset
            continue
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run(), assets_def.keys


def test_the_nightly_job_names_its_assets() -> None:
    job = defs.resolve_job_def("nightly_ingestion")
    selected = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert selected == {f"lake/{t}_parquet" for t in NIGHTLY} | {f"warehouse/{t}" for t in NIGHTLY}
    assert "pa_transactions" in TABLES - NIGHTLY  # a targeted dataset: one conid per call, 15 minutes apart


def test_resources_show_their_settings_as_config_fields() -> None:
    resources = defs.get_repository_def().get_top_level_resources()
    ibkr_fields = set(resources["ibkr"].get_config_field().config_type.fields)  # type: ignore[union-attr]
    assert {"base_url", "account_ids", "limits", "timeout_seconds", "compete"} <= ibkr_fields
    warehouse_fields = set(resources["warehouse"].get_config_field().config_type.fields)  # type: ignore[union-attr]
    assert {"data_dir", "lock_seconds", "allow_shrink"} <= warehouse_fields


def test_a_resource_field_wins_over_its_variable_and_a_bad_one_names_itself(monkeypatch: "pytest.MonkeyPatch") -> None:
    from assets.resources import IbkrResource
    from ibkr_pipelines.errors import ConfigError

    monkeypatch.setenv("IBKR_ACCOUNT_IDS", "U1")
    assert IbkrResource().settings().account_ids == ("U1",)
    assert IbkrResource(account_ids="U2,U3").settings().account_ids == ("U2", "U3")
    with pytest.raises(ConfigError, match=r"^IBKR_LIMITS: "):
        IbkrResource(limits="global=lots").settings()


def test_snapshot_assets_are_daily_partitioned_and_depend_on_their_lake() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys() - {REPORT_KEY}:
        node = graph.get(key)
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        if key.path[0] == "warehouse":
            assert dg.AssetKey(["lake", f"{key.path[1]}_parquet"]) in node.parent_keys
    lake = {t: dg.AssetKey(["lake", f"{t}_parquet"]) for t in TABLES}
    assert lake["accounts"] not in graph.get(lake["positions"]).parent_keys, "accounts come from the login listing"
    assert lake["positions"] in graph.get(lake["contracts"]).parent_keys


def test_nightly_schedule_targets_that_evenings_partition() -> None:
    schedule = defs.resolve_schedule_def("nightly_ingestion_schedule")
    assert schedule.cron_schedule == "30 23 * * *"
    when = datetime.datetime(2026, 11, 20, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        data = schedule.evaluate_tick(context)
    assert [r.partition_key for r in data.run_requests or []] == ["2026-11-20"]


def test_instance_config_pools_duckdb_writers_to_one() -> None:
    config = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_dagster_definitions_validate_passes(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "assets.definitions"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout
