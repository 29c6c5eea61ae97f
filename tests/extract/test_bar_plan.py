"""The range planner against the simulator: every bar once, requests within 10% of the minimum, no bars on closed days."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterator, Mapping

import polars as pl
import pytest

from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.extract.bar_plan import (
    HistoryCall,
    bars_per_session,
    fetch_bars,
    plan_call,
    weekdays_between,
    window_end_utc,
)
from ibkr_pipelines.extract.history import HISTORY_PATH, BarSeries, ContractNotServed
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.market_hours import US_EQUITY
from ibkr_pipelines.windows import DateWindow
from tests.extract.history_sim import TODAY, gateway_client, start_simulator

SYMBOLS = ("SPY", "AAPL", "MSFT")
YEAR = DateWindow(dt.date(2025, 7, 1), dt.date(2026, 6, 30))
MONTH = DateWindow(dt.date(2026, 8, 24), dt.date(2026, 9, 22))  # Labor Day, 2026-09-07
# NYSE holidays in those windows (nyse.com), written out so the test does not only trust the simulator's rules.
HOLIDAYS = {dt.date(2025, 7, 4), dt.date(2025, 9, 1), dt.date(2025, 11, 27), dt.date(2025, 12, 25),
            dt.date(2026, 1, 1), dt.date(2026, 1, 19), dt.date(2026, 2, 16), dt.date(2026, 4, 3),
            dt.date(2026, 5, 25), dt.date(2026, 6, 19), dt.date(2026, 9, 7)}


class Counting:
    """An ApiClient that counts the history requests it passes on."""

    def __init__(self, inner: IbkrClient) -> None:
        self.inner = inner
        self.history: list[dict[str, Any]] = []

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        if path == HISTORY_PATH:
            self.history.append(dict(params or {}))
        return self.inner.get(path, params=params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.inner.post(path, json=json, params=params)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = start_simulator()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def client(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counting]:
    with gateway_client(sim, tmp_path_factory.mktemp("pacing")) as inner:
        yield Counting(inner)


def _conid(sim: Simulator, symbol: str) -> int:
    return sim.world.by_symbol[symbol][0].conid


def _fetch(client: Counting, series: BarSeries, window: DateWindow) -> tuple[pl.DataFrame, int, int]:
    """All chunks of one series concatenated, the number of chunks, and the history requests it took."""
    before = len(client.history)
    chunks = list(fetch_bars(client, series, window))
    frame = pl.concat(chunks) if chunks else pl.DataFrame()
    return frame, len(chunks), len(client.history) - before


def _check(frame: pl.DataFrame, requests: int, window: DateWindow, per_day: int | None) -> None:
    keys = ["conid", "bar_size", "source", "bar_start_utc"]
    assert frame.height == frame.unique(keys).height, "a bar came twice (a seam between answers)"
    valid, quarantine = split_valid("bars", frame)
    assert quarantine.height == 0 and valid.height == frame.height
    dates = set(frame.get_column("bar_date").to_list())
    open_days = {d for d in window if US_EQUITY.is_trading_date(d)}
    assert dates == open_days, "every trading day has bars, and only trading days"
    assert not dates & HOLIDAYS and all(d.weekday() < 5 for d in dates)
    if per_day is not None:
        assert frame.group_by("bar_date").len().get_column("len").to_list() == [per_day] * len(open_days)
    least = math.ceil(frame.height / 1000)
    assert requests <= least * 1.1, f"{requests} history requests for {frame.height} bars (least {least})"


def test_a_year_of_daily_bars_is_one_request_per_conid(sim: Simulator, client: Counting) -> None:
    for symbol in SYMBOLS:
        frame, _, requests = _fetch(client, BarSeries(_conid(sim, symbol), "1d", "Trades"), YEAR)
        _check(frame, requests, YEAR, per_day=1)
        assert requests == 1
        assert frame.get_column("symbol").unique().to_list() == [symbol]


def test_thirty_days_of_minute_bars_chain_without_gaps_or_repeats(sim: Simulator, client: Counting) -> None:
    for symbol in SYMBOLS:
        frame, chunks, requests = _fetch(client, BarSeries(_conid(sim, symbol), "1min", "Trades"), MONTH)
        _check(frame, requests, MONTH, per_day=390)
        assert chunks == requests, "one chunk per answer: callers stream them"


def test_minute_bars_outside_regular_hours_and_quote_sources(sim: Simulator, client: Counting) -> None:
    week = DateWindow(dt.date(2026, 9, 1), dt.date(2026, 9, 11))
    spy = _conid(sim, "SPY")
    frame, _, requests = _fetch(client, BarSeries(spy, "1min", "Midpoint", outside_rth=True), week)
    _check(frame, requests, week, per_day=960)  # 04:00-20:00 New York
    assert frame.get_column("volume").sum() == 0  # quote sources carry no volume
    frame, _, requests = _fetch(client, BarSeries(spy, "5min", "Bid_Ask"), week)
    _check(frame, requests, week, per_day=78)


def test_weekly_bars_take_one_week_period_request(sim: Simulator, client: Counting) -> None:
    frame, chunks, requests = _fetch(client, BarSeries(_conid(sim, "AAPL"), "1w", "Trades"), YEAR)
    assert frame.height == frame.unique("bar_start_utc").height and (chunks, requests) == (1, 1)
    assert 50 <= frame.height <= 53 and client.history[-1]["period"].endswith("w")
    assert all(YEAR.start <= d <= YEAR.end for d in frame.get_column("bar_date").to_list())


def test_a_window_before_the_listing_answers_no_data_as_zero_bars(sim: Simulator, client: Counting) -> None:
    frame, chunks, requests = _fetch(client, BarSeries(_conid(sim, "SPY"), "1d", "Trades"),
                                     DateWindow(dt.date(2023, 6, 1), dt.date(2023, 6, 30)))
    assert (frame.height, chunks, requests) == (0, 0, 1)


def test_an_unknown_conid_is_one_line_naming_it(client: Counting) -> None:
    with pytest.raises(ContractNotServed) as refused:
        list(fetch_bars(client, BarSeries(999_999_999, "1d", "Trades"), YEAR))
    assert "conid 999999999" in str(refused.value) and "\n" not in str(refused.value)


def test_the_first_request_ends_at_new_york_midnight_after_the_window() -> None:
    assert window_end_utc(MONTH) == dt.datetime(2026, 9, 23, 4, 0, tzinfo=dt.timezone.utc)  # EDT
    assert window_end_utc(DateWindow.of(dt.date(2026, 1, 5))) == dt.datetime(2026, 1, 6, 5, 0, tzinfo=dt.timezone.utc)


def test_periods_ask_for_1000_bars_or_what_is_left_of_the_window() -> None:
    series = BarSeries(1, "1min", "Trades")
    end = window_end_utc(MONTH)
    assert plan_call(series, MONTH, end, 390) == HistoryCall(end, "4d", False)  # ceil(1000/390) + 1
    near = dt.datetime(2026, 8, 25, 15, 0, tzinfo=dt.timezone.utc)
    assert plan_call(series, MONTH, near, 390) == HistoryCall(near, "3d", True)  # Mon, Tue, +1
    assert plan_call(BarSeries(1, "1d", "Trades"), YEAR, window_end_utc(YEAR), 1).period == "262d"
    assert weekdays_between(dt.date(2026, 11, 16), dt.date(2026, 11, 22)) == 5
    frame = pl.DataFrame({"bar_date": [dt.date(2026, 9, 1)] * 3 + [dt.date(2026, 9, 2)] * 5 + [dt.date(2026, 9, 3)]})
    assert bars_per_session(frame) == 5


def _inclusive_history(days: list[dt.date]) -> Any:
    """A fake history route whose window INCLUDES its startTime (unlike the simulator), keeping the 1000 nearest bars."""
    opens = [dt.datetime(d.year, d.month, d.day, 14, 30, tzinfo=dt.timezone.utc) for d in days]  # 09:30 EST
    points = [{"o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 1.0, "t": int((o + dt.timedelta(minutes=k)).timestamp() * 1000)}
              for o in opens for k in range(390)]

    def answer(params: dict[str, Any]) -> Any:
        end = dt.datetime.strptime(params["startTime"], "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.timezone.utc)
        kept = [p for p in points if p["t"] <= end.timestamp() * 1000][-1000:]
        return {"symbol": "X", "volumeFactor": 100, "priceFactor": 100, "data": kept} if kept else {"error": "No data."}

    return answer


def test_a_bar_repeated_at_a_seam_is_landed_once(fake_client: Any) -> None:
    days = [dt.date(2026, 1, 6), dt.date(2026, 1, 7), dt.date(2026, 1, 8)]
    client = fake_client({HISTORY_PATH: _inclusive_history(days)})
    chunks = list(fetch_bars(client, BarSeries(7, "1min", "Trades"), DateWindow(days[0], days[-1])))
    frame = pl.concat(chunks)
    assert frame.height == frame.unique("bar_start_utc").height == 3 * 390
    assert len(client.calls) == 2 and frame.get_column("volume").unique().to_list() == [100.0]
