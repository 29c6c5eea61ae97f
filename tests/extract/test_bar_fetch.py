"""Many series at once: five chains in flight at most, every bar once, a refused contract skipped, a failure raised once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Iterator, Mapping

import polars as pl
import pytest

from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.bar_fetch import HISTORY_IN_FLIGHT, SeriesReport, stream_series
from ibkr_pipelines.extract.history import HISTORY_PATH, BarSeries
from ibkr_pipelines.sources import FetchInputs, bar_universe
from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.windows import DateWindow
from tests.extract.history_sim import TODAY, gateway_client, start_simulator

WEEK = DateWindow(dt.date(2026, 11, 16), TODAY)
KEY = ["conid", "bar_size", "source", "bar_start_utc"]


class Watching:
    """An ApiClient that counts history requests in flight at once (and can fail one conid's requests)."""

    def __init__(self, inner: IbkrClient, fail_conid: int | None = None) -> None:
        self.inner, self.fail_conid = inner, fail_conid
        self.lock = threading.Lock()
        self.now = self.most = self.requests = 0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        if path != HISTORY_PATH:
            return self.inner.get(path, params=params)
        if self.fail_conid is not None and int((params or {})["conid"]) == self.fail_conid:
            raise IbkrPipelinesError("the brokerage session is held by another login (TWS): one line")
        with self.lock:
            self.now += 1
            self.requests += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.01)  # long enough for the chains to overlap
            return self.inner.get(path, params=params)
        finally:
            with self.lock:
                self.now -= 1

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.inner.post(path, json=json, params=params)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def inner(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IbkrClient]:
    with gateway_client(sim, tmp_path_factory.mktemp("pacing")) as client:
        yield client


def _conids(sim: Simulator, *symbols: str) -> list[int]:
    return [sim.world.by_symbol[s][0].conid for s in symbols]


def test_twelve_series_run_five_at_a_time_and_land_every_bar_once(sim: Simulator, inner: IbkrClient) -> None:
    conids = _conids(sim, "SPY", "AAPL", "MSFT", "ASML", "NVDA", "QQQ")
    series = [BarSeries(c, size, "Trades") for c in conids for size in ("1d", "5min")]
    watching = Watching(inner)
    frame = pl.concat(list(stream_series(watching, series, WEEK)))
    assert watching.most == HISTORY_IN_FLIGHT, "five chains side by side, never more"
    assert frame.height == frame.unique(KEY).height
    per_day = frame.group_by("conid", "bar_size", "bar_date").len()
    assert per_day.get_column("bar_date").n_unique() == 5  # Monday to Friday
    assert per_day.group_by("conid", "bar_size").agg(pl.len().alias("days"), pl.col("len").n_unique().alias("sizes")
                                                     ).select(pl.col("days").min(), pl.col("sizes").max()).row(0) == (5, 1)
    assert per_day.filter(pl.col("bar_size") == "1d").get_column("len").to_list() == [1] * 30
    assert per_day.filter(pl.col("bar_size") == "5min").get_column("len").min() >= 78  # a 6.5-hour session or longer
    assert watching.requests == 12  # each series fits in one answer


def test_a_refused_contract_is_one_warning_and_the_others_land(
    sim: Simulator, inner: IbkrClient, caplog: pytest.LogCaptureFixture
) -> None:
    spy, = _conids(sim, "SPY")
    report = SeriesReport()
    frame = pl.concat(list(stream_series(inner, [BarSeries(spy, "1d", "Trades"), BarSeries(999_999_999, "1d", "Trades")],
                                         WEEK, report=report)))
    assert frame.get_column("conid").unique().to_list() == [spy]
    assert len(report.refused) == 1 and "999999999" in report.refused[0]
    assert any("999999999" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


def test_any_other_failure_stops_every_chain_and_is_raised_once(sim: Simulator, inner: IbkrClient) -> None:
    conids = _conids(sim, "SPY", "AAPL", "MSFT", "ASML", "NVDA", "QQQ")
    watching = Watching(inner, fail_conid=conids[0])
    with pytest.raises(IbkrPipelinesError, match="held by another login"):
        for _ in stream_series(watching, [BarSeries(c, "1min", "Trades") for c in conids], DateWindow(
                dt.date(2026, 10, 1), TODAY)):
            pass
    # Only the chains' own threads count: other tests of this worker may leave a server's threads winding down.
    chains = [t.name for t in threading.enumerate() if t.name.startswith("ibkr-bars-")]
    assert chains == [], "no chain outlives the failure"


def test_the_universe_is_every_conid_held_or_watched_in_each_bar_size() -> None:
    positions = pl.DataFrame({"conid": [11, 12, 11, None], "asset_class": ["STK", "CASH", "STK", "OPT"]})
    watchlist = pl.DataFrame({"conid": [13, 11, None]})
    settings = Settings(bar_sizes=("1d", "1h"), bar_source="Bid_Ask", bars_outside_rth=True)
    inputs = FetchInputs(WEEK, (), {"positions": positions, "watchlist": watchlist}, settings)
    assert [(s.conid, s.bar_size, s.source, s.outside_rth) for s in bar_universe(inputs)] == [
        (11, "1d", "Bid_Ask", True), (11, "1h", "Bid_Ask", True),
        (12, "1d", "Midpoint", True), (12, "1h", "Midpoint", True),  # forex has no traded prices
        (13, "1d", "Bid_Ask", True), (13, "1h", "Bid_Ask", True),
    ]
    assert bar_universe(FetchInputs(WEEK, (), {}, settings)) == []


class ExpiredOption(Watching):
    """The simulator's answer for an expired option (no history kept, reference "Unavailable Historical Data"):
    "No data.", which the client's endpoint row tolerates as an empty answer (None)."""

    def __init__(self, inner: IbkrClient, expired: int) -> None:
        super().__init__(inner)
        self.expired, self.expired_calls = expired, 0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        if path == HISTORY_PATH and int((params or {})["conid"]) == self.expired:
            self.expired_calls += 1
            return None
        return super().get(path, params=params)


def test_an_expired_contract_has_no_bars_and_is_not_an_error(sim: Simulator, inner: IbkrClient) -> None:
    spy, aapl = _conids(sim, "SPY", "AAPL")
    report = SeriesReport()
    client = ExpiredOption(inner, expired=aapl)
    frame = pl.concat(list(stream_series(client, [BarSeries(spy, "1d", "Trades"), BarSeries(aapl, "1d", "Trades")],
                                         WEEK, report=report)))
    assert frame.get_column("conid").unique().to_list() == [spy] and frame.height == 5
    assert report.refused == []
    assert (client.requests, client.expired_calls) == (1, 1)  # "No data." once: nothing earlier, the chain stops
