"""The report-readiness sensor ticking across the simulated clock (issue 12, "What must be shown").

The embedded simulator makes a day's Account Management statement ready at 00:30 ET the next day
(am_periods.py, a guess of "around midnight") and a day's Flex report once its date is past and its
reference code was polled once more (flex_service.py). Ticks are evaluated as Dagster evaluates them: a
fresh context and resource each time, the cursor handed from one to the next, the simulator shared.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import pytest

from assets import report_sensor
from assets.report_sensor import (CATCH_UP_DAYS, REPORTS_GROUP, ReportCursor, TickOutcome, dates_to_request,
                                  look_within, report_readiness)
from assets.resources import IbkrResource
from ibkr_pipelines import trading_calendar
from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import open_connection, sharing_simulator, start_embedded_simulator
from ibkr_pipelines.readiness import REFERENCE_CODE_KEPT, KeptReference, ReadinessProbe
from ibkr_pipelines.simulator.flex_queries import DEFAULT_TOKEN, FlexConfig
from ibkr_pipelines.simulator.flex_service import FLEX_ROOT
from tests.fast_limits import FAST_LIMITS

THURSDAY = datetime.date(2026, 11, 19)
FRIDAY = datetime.date(2026, 11, 20)
SATURDAY = datetime.date(2026, 11, 21)
# Both sides faster than IBKR's 10 Flex requests a minute, as FAST_LIMITS does for the Client Portal.
FAST_FLEX = FlexConfig(windows=((20, 1.0),))
LIMITS = FAST_LIMITS + ",flex_token=20/1"


@dataclass
class Tick:
    """One evaluation: its result, the cursor it leaves, and the Flex and Account Management requests it made."""

    result: dg.SensorResult
    cursor: str
    flex: dict[str, int]
    statements_asked: int

    @property
    def run_keys(self) -> list[str]:
        return [r.run_key for r in self.result.run_requests or []]

    @property
    def skip(self) -> str:
        reason = self.result.skip_reason
        return reason.skip_message if reason is not None else ""


def _counts(simulator: Any) -> tuple[dict[str, int], int]:
    stats = simulator.stats()
    flex = {k: stats["flex"][k] for k in ("send_requests", "get_statements", "throttled")}
    return flex, stats["account_management"]["requests"].get("GET /statements/available", 0)


_INSTANCE = dg.DagsterInstance.ephemeral()  # one for the module: making one takes Dagster a quarter of a second


def tick(simulator: Any, cursor: str | None, resource: IbkrResource | None = None,
         instance: dg.DagsterInstance | None = None) -> Tick:
    """Evaluate the sensor once (a new context and resource, as Dagster does every tick) from ``cursor``."""
    flex_before, am_before = _counts(simulator)
    with sharing_simulator(simulator), dg.build_sensor_context(
        cursor=cursor, resources={"ibkr": resource or IbkrResource()}, instance=instance or _INSTANCE,
    ) as context:
        result = report_readiness(context)
    flex_after, am_after = _counts(simulator)
    assert isinstance(result, dg.SensorResult) and result.cursor is not None
    return Tick(result, result.cursor, {k: flex_after[k] - flex_before[k] for k in flex_after}, am_after - am_before)


@pytest.fixture(autouse=True)
def no_look_left_running() -> Iterator[None]:
    """A look that outlived its tick (the deadline) would make the next test's first tick skip: wait it out."""
    yield
    report_sensor.LOOKS.wait(60)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Any]:
    """An embedded simulator on Friday 2026-11-20 with a separate pacing store, fast limits on both sides."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("IBKR_BASE_URL", raising=False)
        for name in ("IBKR_FLEX_TOKEN", "IBKR_FLEX_URL", "IBKR_FLEX_QUERY_IDS", "IBKR_ACCOUNT_IDS"):
            mp.delenv(name, raising=False)
        mp.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
        mp.setenv("IBKR_LIMITS", LIMITS)
        mp.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
        sim = start_embedded_simulator(Settings.from_env(), FRIDAY, flex=FAST_FLEX)
        try:
            yield sim
        finally:
            sim.stop()


def at(simulator: Any, day: datetime.date, hh_mm: str) -> None:
    """Move the simulated clock to ``hh_mm`` New York time on ``day``."""
    simulator.set_today(day)
    simulator.set_time_of_day(datetime.time.fromisoformat(hh_mm))


def test_ticks_skip_until_both_reports_are_ready_then_request_the_date_once(simulator: Any) -> None:
    cursor: str | None = None
    # Just after midnight: Thursday's statement is not listed yet (ready 00:30); Flex is not even asked.
    for hh_mm in ("00:05", "00:20"):
        at(simulator, FRIDAY, hh_mm)
        t = tick(simulator, cursor)
        assert t.run_keys == [] and "the statement of 2026-11-19 is not ready yet" in t.skip
        assert "through 2026-11-18" in t.skip and "Flex report is asked once the statement is ready" in t.skip
        assert t.flex == {"send_requests": 0, "get_statements": 0, "throttled": 0} and t.statements_asked == 1
        cursor = t.cursor
    # 00:40: the statement is listed; the Flex report is asked for (SendRequest, ONE GetStatement): 1019.
    at(simulator, FRIDAY, "00:40")
    t = tick(simulator, cursor)
    assert t.run_keys == [] and "the statement of 2026-11-19 is ready" in t.skip
    assert "the Flex report of 2026-11-19 is not ready yet (IBKR answered 1019" in t.skip
    assert t.flex == {"send_requests": 1, "get_statements": 1, "throttled": 0} and t.statements_asked == 1
    kept = ReportCursor.load(t.cursor).kept
    assert kept is not None and kept.day == THURSDAY and ReportCursor.load(t.cursor).requested is None
    cursor = t.cursor
    # 00:50: the kept reference code is asked again (no new SendRequest), the report is there: one run.
    at(simulator, FRIDAY, "00:50")
    t = tick(simulator, cursor)
    assert t.flex == {"send_requests": 0, "get_statements": 1, "throttled": 0} and t.statements_asked == 1
    assert t.run_keys == ["flex:2026-11-19"]
    (request,) = t.result.run_requests or []
    assert request.partition_key == "2026-11-19" and t.result.skip_reason is None
    assert ReportCursor.load(t.cursor) == ReportCursor(THURSDAY, None, False)
    cursor = t.cursor
    # Later ticks, the rest of Friday: nothing more, and not a single request to IBKR's report services.
    for hh_mm in ("01:00", "23:59"):
        at(simulator, FRIDAY, hh_mm)
        t = tick(simulator, cursor)
        assert t.run_keys == [] and t.skip.startswith("2026-11-19 is requested already (run key flex:2026-11-19)")
        assert t.flex == {"send_requests": 0, "get_statements": 0, "throttled": 0} and t.statements_asked == 0
        assert t.cursor == cursor
    # Saturday: Friday is the date now, and it goes the same way (its own run key, once).
    keys = []
    for hh_mm in ("00:10", "00:40", "00:50"):
        at(simulator, SATURDAY, hh_mm)
        t = tick(simulator, cursor)
        keys += t.run_keys
        assert t.flex["send_requests"] + t.flex["get_statements"] <= 2 and t.statements_asked <= 1
        assert t.flex["throttled"] == 0
        cursor = t.cursor
    assert keys == ["flex:2026-11-20"]
    assert ReportCursor.load(cursor).requested == FRIDAY


def test_a_restart_keeps_the_cursor(simulator: Any) -> None:
    """A restarted daemon hands the stored cursor to a new context, resource and connection: nothing is lost or redone."""
    at(simulator, FRIDAY, "00:40")
    first = tick(simulator, None)
    assert first.run_keys == [] and ReportCursor.load(first.cursor).kept is not None
    stored = first.cursor  # what Dagster keeps in its storage between ticks
    at(simulator, FRIDAY, "00:45")
    second = tick(simulator, stored, IbkrResource(), dg.DagsterInstance.ephemeral())  # a new process's
    assert second.flex["send_requests"] == 0  # the kept reference code carried over the restart
    assert second.run_keys == ["flex:2026-11-19"]
    for hh_mm in ("00:55", "12:00"):
        at(simulator, FRIDAY, hh_mm)
        again = tick(simulator, second.cursor, IbkrResource())
        assert again.run_keys == [] and again.cursor == second.cursor
        assert again.flex == {"send_requests": 0, "get_statements": 0, "throttled": 0} and again.statements_asked == 0
    assert ReportCursor.load(ReportCursor.load(second.cursor).dump()) == ReportCursor(THURSDAY, None, False)


def test_a_gateway_login_without_account_management_lets_the_flex_report_decide(tmp_path: Path) -> None:
    """A real gateway login (IBKR_BASE_URL set, a Flex token, no OAuth 2.0): statements are not checked, said once."""
    flex = FlexConfig(windows=((20, 1.0),), generation_polls=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("IBKR_BASE_URL", raising=False)
        mp.setenv("IBKR_PACING_DIR", str(tmp_path / "pacing"))
        mp.setenv("IBKR_LIMITS", LIMITS)
        mp.setenv("IBKR_SIM_LIMITS", FAST_LIMITS)
        sim = start_embedded_simulator(Settings.from_env(), FRIDAY, flex=flex)
        try:
            mp.setenv("IBKR_FLEX_TOKEN", DEFAULT_TOKEN)
            mp.setenv("IBKR_FLEX_URL", sim.root_url + FLEX_ROOT)
            mp.setenv("IBKR_FLEX_QUERY_IDS", "900001")
            # Not the embedded simulator: "now" is the wall clock's function, replaced here (00:40 on Friday, New York).
            mp.setattr(trading_calendar, "utc_now", lambda: datetime.datetime(2026, 11, 20, 0, 40, tzinfo=trading_calendar.TRADING_TIMEZONE))
            at(sim, FRIDAY, "00:40")
            gateway = IbkrResource(base_url=sim.base_url)
            ticks = [tick(sim, None, gateway)]
            for _ in range(2):
                ticks.append(tick(sim, ticks[-1].cursor, gateway))
        finally:
            sim.stop()
    notice = "cannot reach Account Management (a gateway login without OAuth 2.0)"
    assert [notice in t.skip for t in ticks] == [True, False, False], [t.skip for t in ticks]
    assert "the Flex report of 2026-11-19 is not ready yet" in ticks[0].skip
    assert "the Flex report of 2026-11-19 is not ready yet" in ticks[1].skip
    assert [t.run_keys for t in ticks] == [[], [], ["flex:2026-11-19"]]
    assert [t.statements_asked for t in ticks] == [0, 0, 0]
    assert [t.flex["send_requests"] for t in ticks] == [1, 0, 0]  # one SendRequest, its code asked three times
    assert all(ReportCursor.load(t.cursor).said_statements_unchecked for t in ticks)


def test_dates_missed_while_the_sensor_was_off_are_requested_with_the_ready_one() -> None:
    assert dates_to_request(None, THURSDAY) == [THURSDAY]
    assert dates_to_request(THURSDAY - datetime.timedelta(days=3), THURSDAY) == [
        THURSDAY - datetime.timedelta(days=2), THURSDAY - datetime.timedelta(days=1), THURSDAY]
    long_off = dates_to_request(THURSDAY - datetime.timedelta(days=40), THURSDAY)
    assert len(long_off) == CATCH_UP_DAYS and long_off[-1] == THURSDAY  # older ones are a backfill


def test_a_look_that_outlives_the_deadline_skips_the_tick_and_is_not_doubled() -> None:
    release, started = threading.Event(), threading.Event()

    def slow() -> TickOutcome:
        started.set()
        release.wait(10)
        return TickOutcome(ReportCursor(), skip="late")

    first = look_within(slow, 0.2)
    assert started.is_set() and isinstance(first, str) and "did not answer the readiness look within 0.2 s" in first
    second = look_within(lambda: TickOutcome(ReportCursor(), skip="fresh"), 0.2)
    assert isinstance(second, str) and "previous readiness look is still waiting" in second
    release.set()
    for _ in range(50):
        third = look_within(lambda: TickOutcome(ReportCursor(), skip="fresh"), 1.0)
        if not isinstance(third, str):
            break
        threading.Event().wait(0.05)
    assert isinstance(third, TickOutcome) and third.skip == "fresh"


def test_the_sensor_targets_the_reports_group_and_is_registered() -> None:
    from assets.definitions import defs

    sensor = defs.resolve_sensor_def("report_readiness")
    graph = defs.resolve_asset_graph()
    selected = sensor.asset_selection.resolve(graph)
    group = {key for key in graph.get_all_asset_keys() if graph.get(key).group_name == REPORTS_GROUP}
    assert selected == group and {k.path[-1] for k in group} >= {"flex_trades", "flex_nav_parquet"}


def test_a_refused_or_stale_reference_code_falls_back_to_a_new_send_request(simulator: Any) -> None:
    """1017 on a kept code (IBKR forgot it), or a code older than REFERENCE_CODE_KEPT: a new SendRequest, then one GetStatement."""
    at(simulator, FRIDAY, "00:40")
    with sharing_simulator(simulator), open_connection(Settings.from_env()) as connection:
        probe = ReadinessProbe(connection)
        now = probe.now()
        assert now == datetime.datetime(2026, 11, 20, 0, 40, tzinfo=trading_calendar.TRADING_TIMEZONE)  # the simulated clock
        forgotten = KeptReference(THURSDAY, "1000000001", "", now)
        before, _ = _counts(simulator)
        look = probe.flex(THURSDAY, forgotten)
        after, _ = _counts(simulator)
        assert not look.ready and look.kept is not None and look.kept.code != forgotten.code
        assert simulator.stats()["flex"]["errors"].get("1017") == 1
        assert {k: after[k] - before[k] for k in after} == {"send_requests": 1, "get_statements": 2, "throttled": 0}
        # The fresh code, an hour and more later, is not asked again: a new SendRequest is made instead.
        stale = KeptReference(THURSDAY, look.kept.code, look.kept.url, now - REFERENCE_CODE_KEPT)
        look = probe.flex(THURSDAY, stale)
        assert look.kept is not None and look.kept.code != stale.code and look.kept.asked == now
        assert simulator.stats()["flex"]["send_requests"] == after["send_requests"] + 1


@pytest.mark.slow
def test_the_requested_run_lands_that_dates_reports(simulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run request, executed as Dagster would (the sensor's selection, its partition): the date's Flex rows land."""
    import duckdb

    from assets.definitions import defs

    monkeypatch.setenv("IBKR_DATA_DIR", str(tmp_path / "data"))
    at(simulator, FRIDAY, "00:40")
    first = tick(simulator, None)
    at(simulator, FRIDAY, "00:50")
    (request,) = tick(simulator, first.cursor).result.run_requests or []
    selection = defs.resolve_sensor_def("report_readiness").asset_selection.resolve(defs.resolve_asset_graph())
    with sharing_simulator(simulator):
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), partition_key=request.partition_key, asset_selection=list(selection),
            tags=request.tags, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    assert result.success
    with duckdb.connect(str(tmp_path / "data" / "ibkr.duckdb"), read_only=True) as con:
        for table in ("flex_trades", "flex_nav"):
            count, first_day, last_day = con.execute(f"select count(*), min(report_date), max(report_date) from {table}").fetchone()
            assert count > 0 and first_day == last_day == THURSDAY
