"""The secret scan itself: it finds a secret in each kind of file a run leaves (so a clean scan means something)."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import polars as pl

from tests.e2e.secret_scan import files_containing

SECRET = "s3cr3t-0123456789abcdef"


def test_the_scan_finds_a_secret_in_an_archive_parquet_duckdb_and_plain_files(tmp_path: Path) -> None:
    (tmp_path / "answer.json.gz").write_bytes(gzip.compress(f'{{"sessionId": "{SECRET}"}}'.encode()))
    pl.DataFrame({"n": list(range(1000)), "v": [SECRET] * 1000}).write_parquet(tmp_path / "t.parquet", compression="zstd")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table t as select range as n, ? as v from range(100000)", [SECRET])
    (tmp_path / "run.log").write_text(f"token {SECRET}\n")
    (tmp_path / "key.pem").write_text(SECRET)  # the user's own key file is not a leak
    hits = files_containing(tmp_path, [SECRET, "absent"])
    assert sorted(h.split(": ")[0].rsplit("/", 1)[1] for h in hits) == ["answer.json.gz", "run.log", "t.parquet", "w.duckdb"]
    assert all(h.endswith("#0") for h in hits)
