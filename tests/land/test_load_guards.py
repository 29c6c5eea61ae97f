"""A load replaces exactly the slice its extraction covered, and never silently shrinks what is landed."""

from __future__ import annotations

import polars as pl
import pytest

from ibkr_pipelines.land.warehouse import ShrinkRefused

from .conftest import DAY1, position, positions_frame
from .test_warehouse import _hold_lock
from ibkr_pipelines.schemas.registry import TABLES


def _positions(account: str, n: int) -> pl.DataFrame:
    return positions_frame([position(i, acctId=account) for i in range(1, n + 1)], DAY1, account_id=account)


def _by_account(landing) -> list[tuple[str, int]]:
    return landing.rows("SELECT account_id, count(*) FROM positions GROUP BY 1 ORDER BY 1")


def test_a_one_account_load_leaves_the_other_accounts_rows(landing) -> None:
    both = pl.concat([_positions("U1", 12), _positions("U2", 3)])
    landing.land("positions", DAY1, both, accounts=("U1", "U2"))
    landing.land("positions", DAY1, _positions("U2", 4), accounts=("U2",))
    assert _by_account(landing) == [("U1", 12), ("U2", 4)]


def test_a_file_without_a_slice_replaces_the_whole_date(landing) -> None:
    landing.land("positions", DAY1, pl.concat([_positions("U1", 2), _positions("U2", 2)]))
    landing.land("positions", DAY1, _positions("U1", 2))
    assert _by_account(landing) == [("U1", 2)]


def test_rows_outside_the_slice_are_refused(landing) -> None:
    with pytest.raises(Exception, match="outside the account_ids the file covers"):
        landing.land("positions", DAY1, _positions("U3", 1), accounts=("U1",))


@pytest.mark.parametrize(("landed", "incoming"), [(12, 0), (3, 0), (40, 19), (1, 0)])
def test_a_big_shrink_is_refused_and_the_landed_rows_stay(landing, landed: int, incoming: int) -> None:
    landing.land("positions", DAY1, _positions("U1", landed), accounts=("U1",))
    with pytest.raises(ShrinkRefused) as caught:
        landing.land("positions", DAY1, _positions("U1", incoming), accounts=("U1",))
    message = str(caught.value)
    assert message.startswith(f"positions 2026-04-01: refusing to replace {landed} landed row(s) of U1 with {incoming}")
    assert "--allow-shrink" in message and "\n" not in message
    assert _by_account(landing) == [("U1", landed)]
    assert not caught.value.retryable


@pytest.mark.parametrize(("landed", "incoming"), [(12, 6), (9, 1), (0, 0), (5, 9)])
def test_ordinary_changes_load(landing, landed: int, incoming: int) -> None:
    if landed:
        landing.land("positions", DAY1, _positions("U1", landed), accounts=("U1",))
    landing.land("positions", DAY1, _positions("U1", incoming), accounts=("U1",))
    assert landing.rows("SELECT count(*) FROM positions") == [(incoming,)]


def test_allow_shrink_accepts_what_the_source_says(landing) -> None:
    landing.land("positions", DAY1, _positions("U1", 12), accounts=("U1",))
    landing.land("positions", DAY1, _positions("U1", 0), accounts=("U1",), allow_shrink=True)
    assert _by_account(landing) == []


def test_a_whole_date_that_would_empty_is_refused(landing) -> None:
    landing.land("positions", DAY1, _positions("U1", 12))
    with pytest.raises(ShrinkRefused, match=r"refusing to replace 12 landed row\(s\) with 0"):
        landing.land("positions", DAY1, _positions("U1", 0))


def test_a_load_waits_for_a_reader_and_says_how_long(landing) -> None:
    holder = _hold_lock(landing.warehouse.db_path, 1.5)
    try:
        landing.land("positions", DAY1, _positions("U1", 2), accounts=("U1",))
    finally:
        holder.wait(timeout=30)
    assert landing.warehouse.lock_wait_seconds >= 1.0
    assert _by_account(landing) == [("U1", 2)]


def test_load_status_tells_a_half_loaded_date(landing) -> None:
    landing.land("positions", DAY1, _positions("U1", 2), "run-a", accounts=("U1",))
    rows = landing.rows("SELECT tables_loaded, tables_expected, tables_missing, complete FROM load_status")
    others = sorted(t for t in TABLES if t != "positions")
    assert rows == [(1, len(TABLES), others, False)]
    for table in others:
        with landing.warehouse.connect() as con:
            con.execute(
                "INSERT INTO _load_log VALUES (?, ?, 0, 0, NULL, ?, now())", [table, DAY1.isoformat(), "run-b"]
            )
    rows = landing.rows("SELECT complete, from_one_run, runs FROM load_status")
    assert rows == [(True, False, 2)]
