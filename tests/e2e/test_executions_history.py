"""Issue 12: executions older than the trades endpoint's 7 days come from Flex, and close the gap check.

Two nights a fortnight apart leave a gap in `executions` that the Web API can no longer serve. A
backfill of the gap, run "today" (IBKR_SIM_TODAY: the later night), goes to the Flex statements for
those dates and lands the same executions the Web API listed on those nights (the same ids, sides,
quantities, prices, times, commissions); the gap is closed, and the Web API's executions reconcile
with the Flex fills on the days both landed. A new login's first run (IBKR_HISTORY_FROM at the world's
first day) lands every fill the world has, once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ibkr_pipelines.config import Settings
from ibkr_pipelines.executions_reconcile import executions_against_flex
from ibkr_pipelines.land.lake import Lake
from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.simulator.world import WORLD_START, World
from ibkr_pipelines.staging import uncovered_dates
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE_NAME
from tests.e2e.cli_helpers import Workdir

pytestmark = pytest.mark.slow

NEW_YORK = ZoneInfo(TRADING_TIMEZONE_NAME)

FIRST_NIGHT, LATER_NIGHT = dt.date(2026, 11, 6), dt.date(2026, 11, 20)
GAP = (dt.date(2026, 11, 7), dt.date(2026, 11, 13))  # after the first night's 7 days, before the later night's
# What both routes fill in (Flex has no submitter, clearing id, IBKR's order text or liquidation flag).
# A bond's symbol differs: Flex writes the bond ("VZ 4.5 05/15/40"), the Web API its issuer (VZ).
SAME = ("execution_id, account_id, conid, if(sec_type = 'BOND', null, symbol), sec_type, side, quantity, price, "
        "commission, net_amount, trade_time, exchange, listing_exchange, order_id, order_ref")


def _gap_rows(work: Workdir) -> list[tuple[object, ...]]:
    return work.query(f"select {SAME} from executions where trade_date between '{GAP[0]}' and '{GAP[1]}' order by 1")


def _ingest(work: Workdir, *args: str, **env: str) -> str:
    done = work.run(["ingest", *args, "--select", "executions"], **env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_a_gap_older_than_the_web_apis_reach_is_closed_from_flex_with_the_same_executions(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path / "work")
    _ingest(work, "--date", str(FIRST_NIGHT))
    _ingest(work, "--date", str(LATER_NIGHT))
    lake = Lake(work.root / "data")
    assert uncovered_dates(lake, "executions", LATER_NIGHT)[0].start == GAP[0]

    printed = _ingest(work, "--from", str(GAP[0]), "--to", str(GAP[1]), IBKR_SIM_TODAY=str(LATER_NIGHT))
    assert "FlexWebService/SendRequest" in printed and "/iserver/account/trades" not in printed, printed
    assert uncovered_dates(lake, "executions", LATER_NIGHT) == ()
    from_flex = _gap_rows(work)
    assert from_flex and all("flex_row_key" in r[0] for r in work.query(
        f"select raw_extra from executions where trade_date between '{GAP[0]}' and '{GAP[1]}'"))

    # The same dates from the Web API, as the nights would have landed them (the simulator's clock moved back).
    api = Workdir.make(tmp_path / "api")
    _ingest(api, "--date", str(GAP[1]))
    assert _gap_rows(api) == from_flex

    # Flex trades over days the Web API landed (and history days, which are not compared): the two agree.
    flex = work.run(["ingest", "--from", str(GAP[1] - dt.timedelta(days=2)), "--to", str(LATER_NIGHT - dt.timedelta(days=1)),
                     "--select", "flex_trades"], IBKR_SIM_TODAY=str(LATER_NIGHT))
    assert flex.returncode == 0, flex.stderr[-3000:]
    found = executions_against_flex(Warehouse(work.db))
    assert found.reconciles, found
    web_api_days = [GAP[1] + dt.timedelta(days=n) for n in range(1, 6)]  # 11-14 .. 11-18 (11-19 lacks its next day)
    assert found.days == tuple(web_api_days) and found.matched > 0


def test_a_new_logins_first_run_lands_the_worlds_whole_history_once(tmp_path: Path) -> None:
    """IBKR_HISTORY_FROM at the account's opening, a Trade Confirmation query: the first night lands every
    fill since the world began (2024-01-02), each once; the next night lands its own 7 days."""
    work = Workdir.make(tmp_path / "work", IBKR_HISTORY_FROM=str(WORLD_START), IBKR_FLEX_QUERY_IDS="900005")
    first = _ingest(work, "--date", str(LATER_NIGHT))
    assert "FlexWebService/SendRequest" in first and "/iserver/account/trades" in first, first
    lake = Lake(work.root / "data")
    assert lake.partitions("executions")[0] == str(WORLD_START) and uncovered_dates(lake, "executions", LATER_NIGHT) == ()
    assert work.query("select count(distinct partition_key) from _load_log where table_name = 'executions'")[0][0] \
        == (LATER_NIGHT - WORLD_START).days + 1  # every date since the opening is loaded, not only the night's 7

    # Every fill of the world's listed accounts before the night (the night's own depend on the clock's hour).
    world = World(Settings().sim_seed, LATER_NIGHT)
    listed = {a.id for a in world.accounts}
    expected = sorted(e.exec_id for e in world.executions if e.account in listed
                      and e.trade_time.astimezone(NEW_YORK).date() < LATER_NIGHT)
    landed = [r[0] for r in work.query(f"select execution_id from executions where trade_date < '{LATER_NIGHT}' order by 1")]
    assert len(expected) > 5000 and landed == expected  # once each: a list, not a set

    # The next night lands its own 7 days: the history is not fetched again.
    again = _ingest(work, "--date", str(LATER_NIGHT + dt.timedelta(days=1)), IBKR_SIM_TODAY=str(LATER_NIGHT + dt.timedelta(days=1)))
    assert "FlexWebService" not in again, again
    assert work.query("select count(*) from executions where trade_date < '{LATER_NIGHT}'".format(LATER_NIGHT=LATER_NIGHT))[0][0] \
        == len(expected)
