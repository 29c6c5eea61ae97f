"""A snapshot of the code location: assets, groups, pools, partitions, job, schedule, instance config."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml

from assets.definitions import defs
from assets.factory import DUCKDB_POOL

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"accounts", "account_summary", "ledger", "positions", "allocation", "contracts"}


def test_every_dataset_has_a_lake_and_a_warehouse_asset_in_its_domain_group() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {f"{layer}/{t}" for layer in ("lake", "warehouse") for t in TABLES}
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["lake/positions"] == "portfolio" and groups["warehouse/contracts"] == "reference"


def test_only_duckdb_writers_are_in_the_single_writer_pool() -> None:
    for assets_def in defs.assets or []:
        for key in assets_def.keys:
            spec_pool = assets_def.op.pool
            if key.path[0] == "warehouse":
                assert spec_pool == DUCKDB_POOL, key
            else:
                assert spec_pool is None, key


def test_snapshot_assets_are_daily_partitioned_and_depend_on_their_lake() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        if key.path[0] == "warehouse":
            assert dg.AssetKey(["lake", key.path[1]]) in node.parent_keys
    assert dg.AssetKey(["lake", "accounts"]) in graph.get(dg.AssetKey(["lake", "positions"])).parent_keys
    assert dg.AssetKey(["lake", "positions"]) in graph.get(dg.AssetKey(["lake", "contracts"])).parent_keys


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
