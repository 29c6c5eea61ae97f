"""GET /iserver/marketdata/history: tier check, bars from the world's prices, limits and errors."""

from __future__ import annotations

import datetime
from typing import Any, Callable

import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.clock import NEW_YORK, UTC

from .conftest import TODAY, open_brokerage

PATH = "/iserver/marketdata/history"


def _spy(sim: Simulator) -> int:
    return sim.world.by_symbol["SPY"][0].conid


def _get(http: requests.Session, sim: Simulator, **params: Any) -> requests.Response:
    return http.get(sim.base_url + PATH, params=params)


def _day(ms: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def test_history_needs_the_brokerage_session(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(brokerage_at_start=False)
    r = _get(http, sim, conid=_spy(sim), bar="1d", period="1w")
    assert r.status_code == 400 and "no bridge" in r.json()["error"]
    open_brokerage(http, sim)
    assert _get(http, sim, conid=_spy(sim), bar="1d", period="1w").status_code == 200


def test_daily_bars_close_at_the_worlds_prices_up_to_the_clock_date(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    conid = _spy(sim)
    body = _get(http, sim, conid=conid, bar="1d", period="1m").json()
    days = [_day(b["t"]) for b in body["data"]]
    assert days[-1] == TODAY and all(d.weekday() < 5 for d in days) and days == sorted(set(days))
    assert 20 <= len(days) <= 23 and body["points"] == len(days) - 1
    for d, bar in zip(days, body["data"]):
        assert bar["c"] == sim.world.price(conid, d)
        assert bar["l"] <= min(bar["o"], bar["c"]) <= max(bar["o"], bar["c"]) <= bar["h"]
    assert body["symbol"] == "SPY" and body["barLength"] == 86400 and body["timePeriod"] == "1m"


def test_intraday_bars_are_deterministic_and_inside_the_session(
    make_sim: Callable[..., Simulator], http: requests.Session, separate_worlds: None
) -> None:
    answers = []
    for _ in range(2):
        sim = make_sim()
        open_brokerage(http, sim)
        answers.append(_get(http, sim, conid=_spy(sim), bar="5min", period="1d").json())
        http.close()
    body = answers[0]
    assert answers[0]["data"] == answers[1]["data"]
    assert len(body["data"]) == 390 // 5 and body["barLength"] == 300
    first = datetime.datetime.fromtimestamp(body["data"][0]["t"] / 1000, tz=UTC)
    # 09:30 New York (the recording's 13:30 UTC in April is daylight time; TODAY is in standard time)
    assert first == datetime.datetime(TODAY.year, TODAY.month, TODAY.day, 9, 30, tzinfo=NEW_YORK)
    assert body["startTime"] == first.strftime("%Y%m%d-%H:%M:%S")
    assert all(b["t"] - a["t"] == 300_000 for a, b in zip(body["data"], body["data"][1:]))
    assert body["data"][-1]["c"] == sim.world.price(_spy(sim), TODAY)  # the bridge ends at the close


def test_at_most_1000_points(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    body = _get(http, sim, conid=_spy(sim), bar="1min", period="1000d").json()
    assert len(body["data"]) == 1000 and _day(body["data"][-1]["t"]) == TODAY


def test_errors_unknown_conid_bad_bar_and_no_data(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    r = _get(http, sim, conid=1, bar="1d")
    assert r.status_code == 400 and "conid" in r.json()["error"]
    assert _get(http, sim, conid=_spy(sim), bar="7x").status_code == 400
    assert _get(http, sim, conid=_spy(sim), bar="1d", period="31min").status_code == 400
    before_the_world = (sim.world.days[0] - datetime.timedelta(days=10)).strftime("%Y%m%d-00:00:00")
    r = _get(http, sim, conid=_spy(sim), bar="1d", period="1w", startTime=before_the_world)
    assert r.json() == {"error": "No data."}
