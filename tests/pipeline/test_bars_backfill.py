"""A Dagster backfill of bars: a year of daily bars and 30 days of minute bars for every conid the demo world holds.

Each backfill is one single-run range over both bars assets (what a UI backfill of the range runs).
Every bar the simulated world has for those conids and dates lands once (the world's bars are read
from the simulator's own history builder, not from our planner), and the history requests stay
within 10% of the least IBKR allows: the sum over conids and sizes of ceil(bars / 1000).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from assets.factory import lake_key, warehouse_key
from ibkr_pipelines.connection import sharing_simulator
from ibkr_pipelines.simulator.history_params import parse_query
from ibkr_pipelines.simulator.market_hours import market_for
from ibkr_pipelines.windows import DateWindow
from tests.pipeline.conftest import FRIDAY, QUIET, Pipeline, open_pipeline

HISTORY = "GET /iserver/marketdata/history"
YEAR = DateWindow(FRIDAY - dt.timedelta(days=364), FRIDAY)
MONTH = DateWindow(FRIDAY - dt.timedelta(days=29), FRIDAY)
BAR_KEY = {"conid": pl.Int64, "source": pl.String, "start_ms": pl.Int64}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The demo world's Friday landed (positions and watchlist: the universe of bars)."""
    for landed in open_pipeline(tmp_path_factory.mktemp("bars")):
        assert landed.run(FRIDAY).success
        yield landed


def history_requests(pipeline: Pipeline) -> int:
    """History requests the simulator has received so far."""
    return int(pipeline.simulator.stats()["endpoints"].get(HISTORY, {}).get("requests", 0))


def backfill(pipeline: Pipeline, window: DateWindow, bar_sizes: str,
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, dg.ExecuteInProcessResult]:
    """Run one single-run backfill of the bars assets over ``window``; returns the history requests it made and its run."""
    from assets.definitions import defs

    monkeypatch.setenv("IBKR_BAR_SIZES", bar_sizes)
    before = history_requests(pipeline)
    tags = {ASSET_PARTITION_RANGE_START_TAG: str(window.start), ASSET_PARTITION_RANGE_END_TAG: str(window.end)}
    with sharing_simulator(pipeline.simulator):
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), tags=tags, run_config=QUIET,
            asset_selection=[lake_key("bars"), warehouse_key("bars")],
        )
    assert result.success
    return history_requests(pipeline) - before, result


def world_bar_starts(pipeline: Pipeline, conid: int, size: str, source: str, window: DateWindow) -> list[int]:
    """Starts (epoch ms) of every regular-hours bar the simulated world has for a series, in sessions near the window.

    A session's bars can fall on the New York date before or after its own (Asian and European
    markets), so sessions two days either side are read; ``on_new_york_dates`` then keeps the window's.
    """
    history = pipeline.simulator.api.history
    contract = history.world.contracts[conid]
    market = market_for(contract)
    span = history.available(contract, FRIDAY)
    if span is None:
        return []
    query = parse_query({"conid": str(conid), "bar": size, "period": "1d", "source": source, "outsideRth": "false"})
    starts = []
    first, last = max(span[0], window.start - dt.timedelta(days=2)), min(span[1], window.end + dt.timedelta(days=2))
    for s in history.sessions(market, first, last) if first <= last else []:
        # Intraday: the builder's own clock of those bars, without drawing a million prices again.
        starts.extend([int(history.daily_bar(contract, market, s, query.source, False)[0])] if size == "1d" else
                      history.session_bar_starts(market, s, query))
    return starts


def on_new_york_dates(frame: pl.DataFrame, window: DateWindow) -> pl.DataFrame:
    """The rows whose bar starts (``start_ms``) fall on the window's New York dates (``trading_date``)."""
    day = pl.from_epoch("start_ms", time_unit="ms").dt.replace_time_zone("UTC").dt.convert_time_zone(
        "America/New_York").dt.date()
    return frame.filter(day.is_between(window.start, window.end))


def check(pipeline: Pipeline, size: str, window: DateWindow, requests: int) -> None:
    """Every bar of every held or watched conid once, nothing else, in at most 1.1x the least requests.

    Compared as frames (a month of minute bars is 1.4 million of them): the world's bars on the
    window's New York dates against the warehouse's, both ways.
    """
    universe = {(c, k) for c, k in pipeline.query(
        "select distinct conid, asset_class from positions union select distinct conid, 'STK' from watchlist "
        "where conid is not null")}
    series = []
    for conid, asset_class in sorted(universe):
        source = "Midpoint" if asset_class == "CASH" else "Trades"
        starts = world_bar_starts(pipeline, conid, size, source, window)
        series.append(pl.DataFrame({"conid": [conid] * len(starts), "source": [source] * len(starts),
                                    "start_ms": starts}, schema=BAR_KEY))
    expected = on_new_york_dates(pl.concat(series), window)
    assert expected.height > 0, "the world has bars in the window"
    with duckdb.connect(str(pipeline.db), read_only=True) as con:
        got = pl.from_arrow(con.sql("select conid, source, epoch_ms(bar_start_utc) as start_ms from bars "
                                    f"where bar_size = '{size}'").to_arrow_table()).cast(BAR_KEY)  # type: ignore[union-attr]
    missing = expected.join(got, on=list(BAR_KEY), how="anti")
    extra = got.join(expected, on=list(BAR_KEY), how="anti")
    assert missing.is_empty(), f"{size}: bars missing for conids {missing['conid'].unique().to_list()[:10]}"
    assert extra.is_empty(), f"{size}: bars the world does not have for conids {extra['conid'].unique().to_list()[:10]}"
    assert got.height == got.unique().height, "every bar once"
    least = sum(math.ceil(n / 1000) for n in expected.group_by("conid", "source").len()["len"])
    assert requests <= math.ceil(1.1 * least), f"{requests} history requests for {size} bars; the least is {least}"
    print(f"{size} over {window}: {got.height} bars, {requests} history requests, least {least}")


def table_hash(pipeline: Pipeline) -> list[tuple[Any, ...]]:
    """A hash of every bar's key and values (the table's content, not its row count)."""
    return pipeline.query("select count(*), sum(hash(conid, bar_size, source, bar_start_utc, open, high, low, close, "
                          "volume, volume_reported, md_availability)) from bars")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_year_of_daily_bars_lands_every_bar_once_in_about_one_request_per_conid(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests, result = backfill(pipeline, YEAR, "1d", monkeypatch)
    check(pipeline, "1d", YEAR, requests)
    # The run's pictures and per-date tables are told once per asset, not copied into 365 materializations.
    materialized = [e.event_specific_data.materialization for e in result.all_events
                    if e.event_type is dg.DagsterEventType.ASSET_MATERIALIZATION]
    observed = [e.event_specific_data.asset_observation for e in result.all_events
                if e.event_type is dg.DagsterEventType.ASSET_OBSERVATION]
    assert len(materialized) == 2 * 365
    assert not [m for m in materialized if {"rows_by_date", "pacing_timeline", "rows_over_time"} & set(m.metadata)]
    assert all(str(YEAR) in m.metadata["range_details"].value for m in materialized)
    assert [m.metadata["ibkr_endpoints"].value[HISTORY]["requests"] for m in materialized
            if m.asset_key == lake_key("bars")] == [requests] * 365, "the traffic, small, stays on each (ingest prints it)"
    assert sorted((o.asset_key, o.partition) for o in observed) == [
        (lake_key("bars"), str(YEAR.end)), (warehouse_key("bars"), str(YEAR.end))]
    assert all(len(o.metadata["rows_by_date"].value) == 365 for o in observed)
    assert {"pacing_timeline", "rows_over_time"} <= {name for o in observed for name in o.metadata}
    before = table_hash(pipeline)
    assert backfill(pipeline, YEAR, "1d", monkeypatch)[0] == requests
    assert table_hash(pipeline) == before, "the same backfill twice changes nothing"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_thirty_days_of_minute_bars_land_every_bar_once_within_ten_percent_of_the_least_requests(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests, result = backfill(pipeline, MONTH, "1min", monkeypatch)
    run_id = result.run_id
    check(pipeline, "1min", MONTH, requests)
    loads = pipeline.query(f"select count(*), count(distinct partition_key), min(partition_key), max(partition_key) "
                           f"from _load_log where table_name = 'bars' and run_id = '{run_id}'")
    assert loads == [(30, 30, str(MONTH.start), str(MONTH.end))], "one run loaded each date of the range once"
