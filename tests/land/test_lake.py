from __future__ import annotations

import polars as pl
import pytest

from ibkr_pipelines.land.lake import Lake

from .conftest import DAY1, DAY2, contracts_frame, position, positions_frame


def test_partition_layout(tmp_path):
    lake = Lake(tmp_path)
    assert lake.partition_path("positions", DAY1) == tmp_path / "lake/positions/snapshot_date=2026-04-01/part-0.parquet"
    assert lake.partition_path("contracts", "2026-04-01") == tmp_path / "lake/contracts/seen_date=2026-04-01/part-0.parquet"
    assert lake.quarantine_path("positions", DAY1) == (
        tmp_path / "lake/_quarantine/table=positions/partition=2026-04-01/part-0.parquet"
    )
    with pytest.raises(ValueError):
        lake.partition_path("positions", "../etc")


def test_rewrite_replaces_the_partition_and_leaves_no_temp_files(tmp_path):
    lake = Lake(tmp_path)
    lake.write_partition("positions", DAY1, positions_frame([position(1), position(2)], DAY1))
    path = lake.write_partition("positions", DAY1, positions_frame([position(3)], DAY1))
    assert lake.read_partition("positions", DAY1)["conid"].to_list() == [3]
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    lake = Lake(tmp_path)
    path = lake.write_partition("positions", DAY1, positions_frame([position(1)], DAY1))

    def broken(self, file, **kwargs):
        open(file, "wb").write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(OSError):
        lake.write_partition("positions", DAY1, positions_frame([position(2)], DAY1))
    monkeypatch.undo()
    assert lake.read_partition("positions", DAY1)["conid"].to_list() == [1]
    assert [p.name for p in path.parent.iterdir()] == ["part-0.parquet"]


def test_hive_partitions_read_back_together(tmp_path):
    lake = Lake(tmp_path)
    lake.write_partition("positions", DAY1, positions_frame([position(1)], DAY1))
    lake.write_partition("positions", DAY2, positions_frame([position(1), position(2)], DAY2))
    lake.write_partition("contracts", DAY1, contracts_frame([{"conid": 1}], DAY1))
    assert lake.partitions("positions") == ["2026-04-01", "2026-04-02"]
    both = pl.read_parquet(lake.table_dir("positions"), hive_partitioning=True)
    assert both.height == 3
