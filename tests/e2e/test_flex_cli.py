"""Issue 12 from the command line: Flex statements land into the flex_* tables, and agree with the Web API.

The embedded simulator serves the Flex Web Service (its default token and query, the window as fd/td).
A settled report of a date exists from the next day, so the run asks for dates the simulator has closed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_helpers import Workdir
from tests.e2e.secret_scan import files_containing

pytestmark = pytest.mark.slow

FLEX = ("flex_trades,flex_open_positions,flex_cash_transactions,flex_transfers,flex_corporate_actions,"
        "flex_conversion_rates,flex_nav,flex_other_rows")
START, END = "2026-11-16", "2026-11-20"
SIMULATOR_TOKEN = "701000000000000000000007"  # the embedded simulator's Flex token (simulator/flex_queries.py)


def _flex_hashes(work: Workdir) -> dict[str, str]:
    hashes = {}
    for table in FLEX.split(","):
        rows = work.query(f"select md5(string_agg(t::varchar, '|' order by t::varchar)) from {table} t")
        hashes[table] = rows[0][0]
    return hashes


def test_flex_lands_idempotently_reconciles_with_api_executions_and_keeps_the_token_out(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path / "work")
    api = work.run(["ingest", "--date", END, "--select", "executions"])  # the Web API's last 7 days
    assert api.returncode == 0, api.stderr[-3000:]
    first = work.run(["ingest", "--from", START, "--to", END, "--select", FLEX])
    assert first.returncode == 0, first.stderr[-3000:]
    landed = _flex_hashes(work)
    counts = dict(work.query("select 'trades', count(*) from flex_trades union all select 'nav', count(*) from flex_nav "
                             "union all select 'positions', count(*) from flex_open_positions"))
    assert min(counts.values()) > 0, counts
    # The same window again changes nothing.
    again = work.run(["ingest", "--from", START, "--to", END, "--select", FLEX])
    assert again.returncode == 0, again.stderr[-3000:]
    assert _flex_hashes(work) == landed
    # Flex and API executions: the same executions, quantities and prices on the days both cover.
    differences = work.query(f"""
        with f as (select exec_id, abs(quantity) q, price from flex_trades
                   where level_of_detail = 'EXECUTION' and report_date between '{START}' and '{END}'),
             a as (select execution_id, abs(quantity) q, price from executions
                   where trade_date between '{START}' and '{END}')
        select * from (select * from f except select * from a) union all (select * from a except select * from f)""")
    assert differences == [], differences[:5]
    assert work.query(f"select count(*) from executions where trade_date between '{START}' and '{END}'")[0][0] > 0
    # The Flex token travels in the query string only: never in the archive, the lake, the warehouse or the log.
    assert SIMULATOR_TOKEN not in first.stdout + first.stderr
    assert not files_containing(work.root, [SIMULATOR_TOKEN])
