"""Nulls per analyst column come from Parquet statistics, and from the data where a file has none."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ibkr_pipelines.staging import null_counts


def test_null_counts_match_the_data_with_and_without_statistics(tmp_path: Path) -> None:
    first = pl.DataFrame({"a": [1, None, 3], "b": [None, None, "x"]})
    second = pl.DataFrame({"a": [None, 5], "b": ["y", "z"]})
    first.write_parquet(tmp_path / "1.parquet", statistics=True, row_group_size=2)  # two row groups
    second.write_parquet(tmp_path / "2.parquet", statistics=False)
    paths = [tmp_path / "1.parquet", tmp_path / "2.parquet"]
    assert null_counts(paths, ["a", "b", "missing"]) == {"a": 2, "b": 2, "missing": 5}
