from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from ibkr_pipelines.land.validate import SchemaMismatch, split_valid, split_valid_partitions
from ibkr_pipelines.schemas import QUARANTINE_SCHEMA

from .conftest import DAY1, position, positions_frame


def test_null_conid_goes_to_quarantine_with_reason_and_the_rest_stays():
    rows = [position(1), {k: v for k, v in position(2).items() if k != "conid"}, position(3)]
    valid, quarantine = split_valid("positions", positions_frame(rows, DAY1), partition_key="2026-04-01", run_id="r")
    assert valid["conid"].to_list() == [1, 3]
    assert quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    bad = quarantine.row(0, named=True)
    assert bad["reason"] == "conid: not_nullable"
    assert bad["row_number"] == 1
    assert bad["table_name"] == "positions" and bad["partition_key"] == "2026-04-01" and bad["run_id"] == "r"
    assert json.loads(bad["row_json"])["ticker"] == "T2"


def test_several_reasons_are_joined():
    df = positions_frame([position(1)], DAY1).with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("account_id"), pl.lit(None, dtype=pl.Int64).alias("conid")
    )
    _, quarantine = split_valid("positions", df)
    assert quarantine["reason"][0] == "account_id: not_nullable; conid: not_nullable"


def test_duplicate_natural_key_keeps_the_first_and_quarantines_later_ones():
    df = positions_frame([position(1, ticker="first"), position(2), position(1, ticker="second")], DAY1)
    valid, quarantine = split_valid("positions", df)
    assert valid.select("conid", "ticker").rows() == [(1, "first"), (2, "T2")]
    assert quarantine["row_number"].to_list() == [2]
    assert quarantine["reason"][0] == "duplicate natural key (snapshot_date=2026-04-01, account_id=U1, conid=1, model=)"


def test_clean_frame_has_empty_quarantine():
    df = positions_frame([position(1), position(2)], DAY1)
    valid, quarantine = split_valid("positions", df)
    assert valid.equals(df) and quarantine.height == 0


def test_missing_column_raises_instead_of_quarantining_everything():
    df = positions_frame([position(1)], DAY1).drop("ticker")
    with pytest.raises(SchemaMismatch, match="missing column 'ticker'"):
        split_valid("positions", df)


def test_wrong_dtype_raises():
    df = positions_frame([position(1)], DAY1).with_columns(pl.col("conid").cast(pl.Utf8))
    with pytest.raises(SchemaMismatch, match="conid"):
        split_valid("positions", df)


def test_a_position_without_its_security_definition_is_quarantined_not_landed():
    bare = {k: v for k, v in position(2).items() if k not in ("ticker", "name")}
    valid, quarantine = split_valid("positions", positions_frame([position(1), bare], DAY1))
    assert valid["conid"].to_list() == [1]
    assert quarantine["reason"].to_list() == ["has_security_definition"]


def test_partitions_validated_in_one_pass_are_judged_as_if_alone():
    # A year of daily bars was 365 pandera calls at ~11 ms each; one pass must give what those calls gave.
    now = dt.datetime(2026, 4, 1, 22, tzinfo=dt.timezone.utc)
    bare = {k: v for k, v in position(4).items() if k not in ("ticker", "name")}
    partitions = [
        ("2026-04-01", positions_frame([position(1), {k: v for k, v in position(2).items() if k != "conid"},
                                        position(1, ticker="again")], DAY1)),
        ("2026-04-02", positions_frame([], DAY1)),
        # The same keys as the first partition's: a duplicate only within a partition, never across.
        ("2026-04-03", positions_frame([position(1), bare, position(3)], DAY1)),
    ]
    together = split_valid_partitions("positions", partitions, run_id="r", now=now)
    alone = [split_valid("positions", frame, partition_key=key, run_id="r", now=now) for key, frame in partitions]
    assert len(together) == 3
    for (valid, quarantine), (valid_alone, quarantine_alone) in zip(together, alone):
        assert valid.equals(valid_alone) and quarantine.equals(quarantine_alone)
    assert together[0][0]["conid"].to_list() == [1] and together[0][1]["row_number"].to_list() == [1, 2]
    assert together[2][0]["conid"].to_list() == [1, 3] and together[2][1]["reason"].to_list() == ["has_security_definition"]
    assert together[2][1]["partition_key"].to_list() == ["2026-04-03"] and together[2][1]["row_number"].to_list() == [1]


def test_one_misfit_partition_among_several_is_named():
    good = positions_frame([position(1)], DAY1)
    with pytest.raises(SchemaMismatch, match="missing column 'ticker'"):
        split_valid_partitions("positions", [("2026-04-01", good), ("2026-04-02", good.drop("ticker"))])
