from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.land.warehouse import LoadError, Warehouse, WarehouseLocked

from .conftest import DAY1, DAY2, contracts_frame, ledger_frame, position, positions_frame

DATA_TABLES = ["accounts", "account_summary", "ledger", "positions", "allocation", "contracts"]


def _snapshot(landing):
    tables = {t: sorted(landing.rows(f"SELECT * FROM {t}"), key=repr) for t in DATA_TABLES}
    tables["quarantine"] = sorted(
        landing.rows("SELECT table_name, partition_key, row_number, reason, row_json FROM quarantine"), key=repr
    )
    return tables


def _day1(landing, run_id):
    bad = {k: v for k, v in position(9).items() if k != "conid"}
    landing.land("positions", DAY1, positions_frame([position(1), position(2), bad], DAY1), run_id)
    landing.land("ledger", DAY1, ledger_frame({"BASE": {"cashbalance": 50.0, "netliquidationvalue": 250.0}}, DAY1), run_id)
    landing.land("contracts", DAY1, contracts_frame([{"conid": 1, "ticker": "A"}, {"conid": 2, "ticker": "B"}], DAY1), run_id)


def test_reloading_a_partition_leaves_every_table_identical(landing):
    _day1(landing, "run-1")
    first = _snapshot(landing)
    _day1(landing, "run-2")
    assert _snapshot(landing) == first
    assert landing.rows("SELECT count(*) FROM positions") == [(2,)]
    assert landing.rows("SELECT count(*) FROM quarantine") == [(1,)]
    assert landing.rows("SELECT run_id FROM quarantine") == [("run-2",)]
    assert landing.rows("SELECT count(*) FROM _load_log") == [(6,)]  # a history: one row per load


def test_two_partitions_are_both_kept(landing):
    landing.land("positions", DAY1, positions_frame([position(1)], DAY1))
    result = landing.land("positions", DAY2, positions_frame([position(1), position(2)], DAY2))
    assert (result.rows, result.replaced, result.quarantined) == (2, 0, 0)
    assert landing.rows("SELECT snapshot_date, count(*) FROM positions GROUP BY 1 ORDER BY 1") == [(DAY1, 1), (DAY2, 2)]
    again = landing.land("positions", DAY2, positions_frame([position(3)], DAY2))
    assert again.replaced == 2
    assert landing.rows("SELECT snapshot_date, conid FROM positions ORDER BY 1, 2") == [(DAY1, 1), (DAY2, 3)]


def test_contracts_merge_on_conid_keeping_first_seen(landing):
    landing.land("contracts", DAY1, contracts_frame([{"conid": 1, "ticker": "A"}, {"conid": 2, "ticker": "B"}], DAY1))
    landing.land("contracts", DAY2, contracts_frame([{"conid": 2, "ticker": "B2"}, {"conid": 3, "ticker": "C"}], DAY2))
    expected = [(1, "A", DAY1, DAY1), (2, "B2", DAY1, DAY2), (3, "C", DAY2, DAY2)]
    query = "SELECT conid, ticker, first_seen_date, last_seen_date FROM contracts ORDER BY conid"
    assert landing.rows(query) == expected
    # a late re-run of the older day does not roll attributes back
    landing.land("contracts", DAY1, contracts_frame([{"conid": 1, "ticker": "A"}, {"conid": 2, "ticker": "B"}], DAY1))
    assert landing.rows(query) == expected


def test_quarantine_is_replaced_per_partition(landing):
    bad = {k: v for k, v in position(9).items() if k != "conid"}
    landing.land("positions", DAY1, positions_frame([position(1), bad], DAY1))
    landing.land("positions", DAY2, positions_frame([position(1), bad], DAY2))
    assert landing.rows("SELECT partition_key, reason FROM quarantine ORDER BY 1") == [
        ("2026-04-01", "conid: not_nullable"),
        ("2026-04-02", "conid: not_nullable"),
    ]
    landing.land("positions", DAY1, positions_frame([position(1)], DAY1))
    assert landing.rows("SELECT partition_key FROM quarantine") == [("2026-04-02",)]


def test_rows_of_another_date_are_refused(landing):
    path = landing.lake.write_partition("positions", DAY1, positions_frame([position(1)], DAY2))
    with pytest.raises(LoadError, match="another snapshot_date"):
        landing.warehouse.load_partition("positions", DAY1, path, "r")
    assert landing.rows("SELECT count(*) FROM positions") == [(0,)]


def test_empty_partition_loads(landing):
    result = landing.land("positions", DAY1, positions_frame([], DAY1))
    assert result.rows == 0


def test_ensure_schema_is_repeatable_and_query_is_read_only(landing):
    landing.warehouse.ensure_schema()
    columns, rows = landing.warehouse.query_readonly("SELECT 1 AS one")
    assert (columns, rows) == (["one"], [(1,)])
    with pytest.raises(Exception, match="read-only"):
        landing.warehouse.query_readonly("CREATE TABLE nope (x INTEGER)")


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold_lock(db_path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_writer_waits_for_another_process_lock_then_proceeds(landing):
    landing.warehouse.ensure_schema()
    holder = _hold_lock(landing.warehouse.db_path, 1.0)
    try:
        started = time.monotonic()
        with landing.warehouse.connect() as con:  # a writer (ensure_schema is done once per process)
            con.execute("SELECT 1")
        assert time.monotonic() - started >= 0.5
        assert landing.warehouse.lock_waits > 0
    finally:
        holder.wait(timeout=30)


def test_writer_gives_a_clear_error_when_the_lock_outlasts_the_timeout(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb", lock_timeout=0.5)
    warehouse.ensure_schema()
    holder = _hold_lock(warehouse.db_path, 30)
    try:
        with pytest.raises(WarehouseLocked, match=r"stayed locked by python[\d.]* \(PID \d+\) for 0.5 s"):
            with warehouse.connect():
                pass
    finally:
        holder.terminate()
        holder.wait(timeout=30)


def _hold_in_a_thread(warehouse, seconds, **connect):
    """Open a connection on another thread of this process and keep it ``seconds``; wait until it is open."""
    opened = threading.Event()

    def hold():
        with warehouse.connect(**connect):
            opened.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    assert opened.wait(timeout=30)
    return thread


@pytest.mark.parametrize(("held", "wanted"), [({"read_only": True}, {}), ({}, {"read_only": True})])
def test_a_reader_and_a_writer_of_one_process_wait_for_each_other(landing, held, wanted):
    """DuckDB refuses a reader beside a writer in one process (a check step beside a load): it is waited out."""
    landing.warehouse.ensure_schema()
    holder = _hold_in_a_thread(landing.warehouse, 1.0, **held)
    started = time.monotonic()
    with landing.warehouse.connect(**wanted) as con:
        assert con.execute("SELECT count(*) FROM positions").fetchone() == (0,)
    assert time.monotonic() - started >= 0.5
    assert landing.warehouse.lock_waits > 0
    holder.join(timeout=30)


def test_a_reader_held_past_the_timeout_in_this_process_is_named(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb", lock_timeout=0.3)
    warehouse.ensure_schema()
    holder = _hold_in_a_thread(warehouse, 3.0, read_only=True)
    try:
        with pytest.raises(WarehouseLocked, match=r"stayed locked by another connection of this process for 0.3 s"):
            with warehouse.connect():
                pass
    finally:
        holder.join(timeout=30)


def test_quarantine_can_be_given_as_a_frame(landing):
    bad = {k: v for k, v in position(9).items() if k != "conid"}
    valid, quarantine = split_valid("positions", positions_frame([position(1), bad], DAY1), run_id="r")
    path = landing.lake.write_partition("positions", DAY1, valid)
    result = landing.warehouse.load_partition("positions", DAY1, path, "r", quarantine=quarantine)
    assert result.quarantined == 1
    assert landing.rows("SELECT partition_key, run_id FROM quarantine") == [("2026-04-01", "r")]


def test_a_second_ensure_schema_in_one_process_remakes_only_what_is_missing(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    with warehouse.connect() as con:
        con.execute("DROP VIEW nav_by_account")
    warehouse.ensure_schema()  # the memo sees the view is gone and remakes the schema
    with warehouse.connect(read_only=True) as con:
        assert "nav_by_account" in {v for (v,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    warehouse.db_path.unlink()  # a new file is made whole
    warehouse.ensure_schema()
    with warehouse.connect(read_only=True) as con:
        assert "positions" in {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
