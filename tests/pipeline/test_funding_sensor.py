"""The funding sensor across the simulated clock (issue 13): a deposit that settles and a withdrawal that is rejected.

The sensor's "now" is the simulator's clock (moved with /sim/clock), the instructions are added with the
simulator's test control /sim/funding; the run the deposit asks for is executed in-process into a temporary
data folder, and the ledger and NAV it lands include the deposit.
"""

from __future__ import annotations

import datetime
from typing import Any, Iterator

import dagster as dg
import pytest
import requests

from assets.funding_sensor import CASH_TABLES, FundingCursor, make_funding_sensor
from assets.resources import IbkrResource
from ibkr_pipelines.connection import sharing_simulator
from tests.pipeline.conftest import QUIET, Pipeline, open_pipeline

pytestmark = pytest.mark.slow

WED, THU = datetime.date(2026, 11, 18), datetime.date(2026, 11, 19)  # before the simulator's own programme starts
DEPOSIT, WITHDRAWAL = 2500.0, 1000.0


def _control(sim: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A test control of the simulator (not IBKR): /sim/clock, /sim/funding."""
    answer = requests.post(sim.root_url + path, json=body, verify=sim.ca_bundle_path or True, timeout=10)
    assert answer.status_code == 200, answer.text
    out: dict[str, Any] = answer.json()
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A data folder and a simulator whose recent-instructions queries are answered at once."""
    yield from open_pipeline(tmp_path_factory.mktemp("funding"), funding_query_seconds=0)


class Ticker:
    """Ticks the funding sensor at the simulator's now, carrying the cursor from tick to tick like Dagster's storage."""

    def __init__(self, sim: Any, cursor: str | None = None) -> None:
        self.sim, self.cursor = sim, cursor
        self.sensor = make_funding_sensor(now=sim.clock.now, deadline_seconds=30)

    def tick(self) -> Any:
        from assets.definitions import defs

        with sharing_simulator(self.sim), dg.build_sensor_context(
                cursor=self.cursor, resources={"ibkr": IbkrResource()}, definitions=defs) as context:
            data = self.sensor.evaluate_tick(context)
        self.cursor = data.cursor
        return data


def test_a_settled_deposit_triggers_one_cash_run_and_a_rejected_withdrawal_moves_no_cash(pipeline: Pipeline) -> None:
    sim = pipeline.simulator
    clients = [a for a in sim.world.accounts if a.kind != "master" and not a.thin and a.currency == "USD"]
    depositor, withdrawer = clients[0].id, clients[1].id
    cash_before = {a: sim.world.cash_as_of(a, THU) for a in (depositor, withdrawer)}
    nav_before = {a: sim.views.nav_base(a, THU) for a in (depositor, withdrawer)}

    _control(sim, "/sim/clock", {"today": WED.isoformat(), "time": "10:00"})
    deposit = _control(sim, "/sim/funding", {"account": depositor, "amount": DEPOSIT, "settle_date": THU.isoformat()})
    withdrawal = _control(sim, "/sim/funding", {"account": withdrawer, "type": "WITHDRAWAL", "amount": WITHDRAWAL,
                                                "outcome": "REJECTED", "settle_date": THU.isoformat()})
    ticker = Ticker(sim)

    first = ticker.tick()  # the baseline: both pending
    assert not first.run_requests and "2 pending" in first.skip_message
    known = FundingCursor.from_json(ticker.cursor).known
    assert {known[str(deposit["instructionId"])].status, known[str(withdrawal["instructionId"])].status} == {"PENDING"}

    for day, time in ((WED, "16:00"), (THU, "11:59")):  # still pending: nothing before it settles
        _control(sim, "/sim/clock", {"today": day.isoformat(), "time": time})
        quiet = ticker.tick()
        assert not quiet.run_requests and "no funding instruction was processed or rejected" in quiet.skip_message

    _control(sim, "/sim/clock", {"today": THU.isoformat(), "time": "12:30"})  # both resolved at noon
    settled = ticker.tick()
    by_key = {r.run_key: r for r in settled.run_requests}
    cash_key = f"funding:{deposit['instructionId']}:PROCESSED"
    reject_key = f"funding:{withdrawal['instructionId']}:REJECTED"
    assert set(by_key) == {cash_key, reject_key}
    cash_run, reject_run = by_key[cash_key], by_key[reject_key]
    assert cash_run.partition_key == reject_run.partition_key == THU.isoformat()
    assert cash_run.run_config["resources"]["ibkr"]["config"]["account_ids"] == depositor
    assert reject_run.run_config["resources"]["ibkr"]["config"]["account_ids"] == withdrawer
    cash_tables = {k.path[-1].removesuffix("_parquet") for k in cash_run.asset_selection}
    assert cash_tables == {*CASH_TABLES, "funding_instructions"}
    # A rejection moves no cash: only funding_instructions lands, to record it and its reason.
    assert {k.path[-1].removesuffix("_parquet") for k in reject_run.asset_selection} == {"funding_instructions"}
    recorded = FundingCursor.from_json(ticker.cursor).known[str(withdrawal["instructionId"])]
    assert recorded.status == "REJECTED" and recorded.reason and "REJECTED_BY_TEST" in recorded.reason

    again = ticker.tick()  # none twice
    assert not again.run_requests and "0 pending" in again.skip_message
    restarted = Ticker(sim, ticker.cursor).tick()  # a restart reads the stored cursor
    assert not restarted.run_requests
    assert FundingCursor.from_json(restarted.cursor).known.keys() == FundingCursor.from_json(ticker.cursor).known.keys()

    # The withdrawal was rejected: the world's cash and NAV of its account are as before.
    assert sim.world.cash_as_of(withdrawer, THU) == cash_before[withdrawer]
    assert sim.views.nav_base(withdrawer, THU) == pytest.approx(nav_before[withdrawer], abs=0.01)

    job = _targeted_job()
    for request in (cash_run, reject_run):
        with sharing_simulator(sim):
            result = job.execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), partition_key=request.partition_key,
                asset_selection=list(request.asset_selection), run_config=QUIET | dict(request.run_config))
        assert result.success

    # The deposit's account: ledger and NAV of the settlement date include the deposit.
    (usd_cash,) = pipeline.query(f"select cash_balance from ledger where account_id = '{depositor}' "
                                 f"and snapshot_date = '{THU}' and currency = 'USD'")[0]
    assert usd_cash == pytest.approx(cash_before[depositor]["USD"] + DEPOSIT, abs=0.01)
    (nav,) = pipeline.query(f"select nav from nav_daily where account_id = '{depositor}' and nav_date = '{THU}'")[0]
    assert nav == pytest.approx(nav_before[depositor] + DEPOSIT, abs=0.01)
    (ledger_nav,) = pipeline.query(f"select net_liquidation_value from ledger where account_id = '{depositor}' "
                                   f"and snapshot_date = '{THU}' and currency = 'BASE'")[0]
    assert ledger_nav == pytest.approx(nav, abs=0.01)
    # Only the affected account was landed, and no cash of the rejected withdrawal's account.
    assert pipeline.query("select distinct account_id from ledger") == [(depositor,)]
    current = pipeline.query("select instruction_id, account_id, status, reject_code from funding_current "
                             "order by instruction_id")
    assert (deposit["instructionId"], depositor, "PROCESSED", None) in current
    assert (withdrawal["instructionId"], withdrawer, "REJECTED", "REJECTED_BY_TEST") in current


def _targeted_job() -> dg.JobDefinition:
    from assets.definitions import defs

    return defs.resolve_job_def("targeted_ingestion")


def test_the_sensor_sends_nothing_in_ibkrs_banking_downtime(pipeline: Pipeline) -> None:
    sim = pipeline.simulator
    _control(sim, "/sim/clock", {"today": "2026-11-21", "time": "11:00"})  # a Saturday: banking is down all day
    before = sum(sim.stats()["account_management"]["requests"].values())
    data = Ticker(sim).tick()
    assert not data.run_requests and "scheduled downtime" in data.skip_message
    assert sum(sim.stats()["account_management"]["requests"].values()) == before


def test_a_transfer_processed_between_two_queries_triggers_once_for_both_accounts(pipeline: Pipeline) -> None:
    sim = pipeline.simulator
    first, second = sorted(a.id for a in sim.world.accounts if a.kind != "master" and not a.thin and a.currency == "USD")[:2]
    _control(sim, "/sim/clock", {"today": "2026-11-17", "time": "09:00"})
    ticker = Ticker(sim)
    assert not ticker.tick().run_requests  # the baseline
    transfer = _control(sim, "/sim/funding", {"account": first, "type": "INTERNAL_CASH_TRANSFER", "target": second,
                                              "amount": 50.0})  # processed at once (reference §3.4's 201)
    assert not ticker.tick().run_requests  # the next query round is 15 minutes after the last
    _control(sim, "/sim/clock", {"today": "2026-11-17", "time": "09:16"})
    (request,) = ticker.tick().run_requests
    assert request.run_key == f"funding:{transfer['instructionId']}:PROCESSED"
    assert request.run_config["resources"]["ibkr"]["config"]["account_ids"] == f"{first},{second}"
    assert request.partition_key == "2026-11-17"
    _control(sim, "/sim/clock", {"today": "2026-11-17", "time": "09:40"})
    assert not ticker.tick().run_requests


def test_an_instructions_life_lands_as_one_row_per_status_and_the_view_shows_the_latest(pipeline: Pipeline) -> None:
    sim = pipeline.simulator
    account = sorted(a.id for a in sim.world.accounts if a.kind != "master" and not a.thin and a.currency == "USD")[-1]
    _control(sim, "/sim/clock", {"today": "2026-11-16", "time": "10:00"})
    deposit = _control(sim, "/sim/funding", {"account": account, "amount": 750.0, "settle_date": "2026-11-17"})
    _control(sim, "/sim/clock", {"time": "15:00"})
    funding_only = [dg.AssetKey(["lake", "funding_instructions_parquet"]), dg.AssetKey(["warehouse", "funding_instructions"])]
    for day in ("2026-11-17", "2026-11-16", "2026-11-17"):  # any order, and again: the same table
        with sharing_simulator(sim):
            result = _targeted_job().execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), partition_key=day, asset_selection=funding_only,
                run_config=QUIET | {"resources": {"ibkr": {"config": {"account_ids": account}}}})
        assert result.success
    life = pipeline.query(f"select status, first_observed_date, last_observed_date from funding_instructions "
                          f"where instruction_id = {deposit['instructionId']} order by first_observed_date")
    assert life == [("PENDING", datetime.date(2026, 11, 16), datetime.date(2026, 11, 16)),
                    ("PROCESSED", datetime.date(2026, 11, 17), datetime.date(2026, 11, 17))]
    assert pipeline.query(f"select status, status_since, is_final from funding_current "
                          f"where instruction_id = {deposit['instructionId']}") == [
        ("PROCESSED", datetime.date(2026, 11, 17), True)]
