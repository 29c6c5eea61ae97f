"""History bars from the world's price paths: aggregation, determinism, windows, the cap, availability."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import time
from typing import Any

import pytest

from ibkr_pipelines.simulator.catalog import Contract
from ibkr_pipelines.simulator.clock import NEW_YORK, UTC
from ibkr_pipelines.simulator.history import HistoryBuilder
from ibkr_pipelines.simulator.history_params import NO_DATA, HistoryError, parse_query
from ibkr_pipelines.simulator.market_hours import market_for
from ibkr_pipelines.simulator.world import World

from .conftest import TODAY

D = datetime.date


def _conid(world: World, symbol: str, asset_class: str = "STK", currency: str | None = None) -> int:
    return next(c.conid for c in sorted(world.contracts.values(), key=lambda c: c.conid)
                if c.symbol == symbol and c.asset_class == asset_class and currency in (None, c.currency))


def _ask(h: HistoryBuilder, conid: int, today: datetime.date = TODAY, **params: Any) -> dict[str, Any]:
    return h.answer({"conid": str(conid), **{k: str(v) for k, v in params.items()}}, today)


def _no_data(h: HistoryBuilder, conid: int, **params: Any) -> bool:
    try:
        _ask(h, conid, **params)
    except HistoryError as exc:
        return exc.message == NO_DATA
    return False


def _day(ms: int, tz: Any = NEW_YORK) -> datetime.date:
    return datetime.datetime.fromtimestamp(ms / 1000, tz).date()


def _agg(bars: list[dict[str, Any]], means: bool = False) -> dict[str, Any]:
    n = len(bars)
    return {"o": round(sum(b["o"] for b in bars) / n, 2) if means else bars[0]["o"],
            "c": round(sum(b["c"] for b in bars) / n, 2) if means else bars[-1]["c"],
            "h": max(b["h"] for b in bars), "l": min(b["l"] for b in bars), "v": sum(b["v"] for b in bars)}


@pytest.fixture
def hist(world: World) -> HistoryBuilder:
    return HistoryBuilder(world)


def test_daily_bar_is_the_aggregate_of_its_minute_bars_and_closes_at_the_world_price(
        hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    for when, outside in (("20261114-06:00:00", False), ("20261114-06:00:00", True), ("20260403-06:00:00", False)):
        daily = _ask(hist, spy, bar="1d", period="1d", startTime=when, outsideRth=outside)["data"]
        minutes = _ask(hist, spy, bar="1min", period="1d", startTime=when, outsideRth=outside)["data"]
        assert len(daily) == 1 and len(minutes) == (960 if outside else 390)
        agg, day = _agg(minutes), daily[0]
        assert {k: day[k] for k in "ochl"} == {k: agg[k] for k in "ochl"}
        assert day["v"] == pytest.approx(agg["v"], rel=1e-12) and day["t"] == minutes[0]["t"]
        if not outside:
            assert day["c"] == world.price(spy, _day(day["t"]))
        for size, per in (("5min", 5), ("1h", None)):
            bigger = _ask(hist, spy, bar=size, period="1d", startTime=when, outsideRth=outside)["data"]
            starts = [b["t"] for b in bigger] + [minutes[-1]["t"] + 60_000]
            for bar, lo, hi in zip(bigger, starts, starts[1:]):
                inside = [m for m in minutes if lo <= m["t"] < hi]
                assert per is None or len(inside) == per
                agg = _agg(inside)
                assert {k: bar[k] for k in "ochl"} == {k: agg[k] for k in "ochl"}


def test_hourly_bars_start_on_the_exchange_clock(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    bars = _ask(hist, spy, bar="1h", period="1d")["data"]
    local = [datetime.datetime.fromtimestamp(b["t"] / 1000, NEW_YORK).strftime("%H:%M") for b in bars]
    assert local == ["09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]


def test_quote_sources_midpoint_and_bid_ask(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    trades = _ask(hist, spy, bar="1min", period="1d")["data"]
    mid = _ask(hist, spy, bar="1min", period="1d", source="Midpoint")["data"]
    ba = _ask(hist, spy, bar="1min", period="1d", source="Bid_Ask")["data"]
    assert [b["t"] for b in mid] == [b["t"] for b in trades] == [b["t"] for b in ba]
    assert all(b["v"] == 0 for b in mid + ba)
    assert max(abs(m["c"] - t["c"]) for m, t in zip(mid, trades)) < 0.5
    # Bid_Ask: time-average bid (o) <= time-average ask (c); lowest bid <= o; highest ask >= c
    assert all(b["l"] <= b["o"] <= b["c"] <= b["h"] for b in ba)
    for source, means in (("Midpoint", False), ("Bid_Ask", True)):
        day = _ask(hist, spy, bar="1d", period="1d", source=source)["data"][0]
        agg = _agg(mid if source == "Midpoint" else ba, means=means)
        assert {k: day[k] for k in "ochl"} == {k: agg[k] for k in "ochl"}


def test_fx_has_no_trades_and_its_midpoint_closes_at_the_world_rate(hist: HistoryBuilder, world: World) -> None:
    eurusd = _conid(world, "EUR", "CASH", "USD")
    assert _no_data(hist, eurusd, bar="1d", period="1w")  # source defaults to Last/Trades
    assert _no_data(hist, eurusd, bar="1d", period="1w", source="Trades")
    body = _ask(hist, eurusd, bar="1d", period="1w", source="Midpoint")
    assert body["priceFactor"] == 100_000 and body["priceDisplayValue"] == "5"
    for bar in body["data"]:
        assert bar["c"] == world.price(eurusd, _day(bar["t"] + 86_400_000 // 2)) and 0.5 < bar["c"] < 2.0
    ba = _ask(hist, eurusd, bar="1h", period="1d", source="Bid_Ask")["data"]
    assert len(ba) == 24 and all(b["o"] < b["c"] for b in ba)


def test_overlapping_requests_agree_bar_for_bar(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    a = _ask(hist, spy, bar="1min", period="2d", startTime="20261112-18:00:00")["data"]
    b = _ask(hist, spy, bar="1min", period="3d", startTime="20261112-16:07:00")["data"]
    fresh = HistoryBuilder(world)  # another simulator of the same seed
    c = _ask(fresh, spy, bar="1min", period="1d", startTime="20261112-17:00:00")["data"]
    by_t = {x["t"]: x for x in a}
    shared = [x for x in b + c if x["t"] in by_t]
    assert len(shared) > 300 and all(by_t[x["t"]] == x for x in shared)
    assert b[-1]["t"] < int(datetime.datetime(2026, 11, 12, 16, 7, tzinfo=UTC).timestamp() * 1000)


def test_period_in_days_counts_sessions_back_from_start_time(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    monday_midnight = "20261116-00:00:00"
    friday = _ask(hist, spy, bar="1d", period="1d", startTime=monday_midnight)["data"]
    assert [_day(b["t"]) for b in friday] == [D(2026, 11, 13)]
    week = _ask(hist, spy, bar="1d", period="5d", startTime=monday_midnight)["data"]
    assert [_day(b["t"]) for b in week] == [D(2026, 11, d) for d in (9, 10, 11, 12, 13)]
    forward = _ask(hist, spy, bar="1d", period="2d", startTime="20261113-15:00:00", direction=1)["data"]
    assert [_day(b["t"]) for b in forward] == [D(2026, 11, 16)]  # Friday's bar starts before startTime
    # no startTime: the simulated date's sessions, complete
    now = _ask(hist, spy, bar="1min", period="1d")["data"]
    assert _day(now[0]["t"]) == _day(now[-1]["t"]) == TODAY and len(now) == 390


def test_at_most_1000_points_and_chaining_on_start_time_leaves_no_gap(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    first = _ask(hist, spy, bar="1min", period="5d")
    assert len(first["data"]) == 1000 and first["points"] == 999 and _day(first["data"][-1]["t"]) == TODAY
    start = datetime.datetime.fromtimestamp(first["data"][0]["t"] / 1000, UTC).strftime("%Y%m%d-%H:%M:%S")
    second = _ask(hist, spy, bar="1min", period="5d", startTime=start)["data"]
    assert len(second) == 1000 and second[-1]["t"] < first["data"][0]["t"]
    # together: every regular-hours minute of the sessions they cover, once
    joined = [b["t"] for b in second + first["data"]]
    days = sorted({_day(t) for t in joined})
    whole = [b["t"] for d in days[1:] for b in _ask(hist, spy, bar="1min", period="1d",
                                                      startTime=f"{d:%Y%m%d}-23:00:00")["data"]]
    assert joined[-len(whole):] == whole and len(set(joined)) == 2000
    # direction 1 keeps the 1000 oldest
    fwd = _ask(hist, spy, bar="1min", period="5d", startTime=start, direction=1)["data"]
    assert len(fwd) == 1000 and fwd[0]["t"] == first["data"][0]["t"]


def test_weekends_and_holidays_have_no_bars(hist: HistoryBuilder, world: World) -> None:
    spy, shell = _conid(world, "SPY"), _conid(world, "SHEL")
    year = _ask(hist, spy, bar="1d", period="1y")["data"]
    days = {_day(b["t"]) for b in year}
    assert not {d for d in days if d.weekday() >= 5}
    assert not days & {D(2026, 1, 19), D(2026, 4, 3), D(2026, 7, 3), D(2025, 12, 25)}
    assert D(2026, 8, 31) in days  # a UK bank holiday: US trades, London does not
    london = {_day(b["t"], UTC) for b in _ask(hist, shell, bar="1d", period="1y")["data"]}
    assert D(2026, 8, 31) not in london and D(2026, 4, 6) not in london and D(2026, 7, 3) in london
    # the world still has a close on a holiday (valuation prices it); history does not serve it
    assert world.price(spy, D(2026, 4, 3)) > 0
    assert _no_data(hist, spy, bar="1min", period="8h", startTime="20260403-23:59:00")  # Good Friday
    assert _no_data(hist, spy, bar="1h", period="8h", startTime="20261115-20:00:00")  # a Sunday
    assert _no_data(hist, spy, bar="1d", period="1w", startTime="20231201-00:00:00")  # before listing


def test_outside_rth_is_wider_and_keeps_the_regular_bars(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    rth = _ask(hist, spy, bar="1min", period="1d")
    eth = _ask(hist, spy, bar="1min", period="1d", outsideRth="true")
    assert len(eth["data"]) == 960 and len(rth["data"]) == 390 and eth["outsideRth"] is True
    assert rth["tradingDayDuration"] == 390 and eth["tradingDayDuration"] == 1440
    by_t = {b["t"]: b for b in eth["data"]}
    assert all(by_t[b["t"]] == b for b in rth["data"])
    first = datetime.datetime.fromtimestamp(eth["data"][0]["t"] / 1000, NEW_YORK)
    assert (first.hour, first.minute) == (4, 0)


def test_price_factor_scales_only_the_high_and_low_strings(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    body = _ask(hist, spy, bar="1d", period="1w")
    hi = max(body["data"], key=lambda b: b["h"])
    price, volume, minutes = body["high"].split("/")
    assert body["priceFactor"] == 100 and int(price) == round(hi["h"] * 100)
    assert float(volume) == hi["v"] and int(minutes) == (hi["t"] - body["data"][0]["t"]) // 60_000
    assert abs(body["data"][-1]["c"] - world.price(spy, TODAY)) < 1e-9  # o/c/h/l are plain prices
    assert body["volumeFactor"] == 100 and body["mdAvailability"] == "S" and body["mktDataDelay"] == 0
    toyota = _ask(hist, _conid(world, "7203"), bar="1d", period="1w")
    assert toyota["priceFactor"] == 1 and toyota["mdAvailability"] == "D" and toyota["mktDataDelay"] == 900


def _with_contract(world: World, c: Contract) -> World:
    w = copy.copy(world)
    w.contracts = {**world.contracts, c.conid: c}
    return w


def test_expired_contracts(world: World) -> None:
    opt = next(c for c in world.contracts.values() if c.asset_class == "OPT")
    fut = next(c for c in world.contracts.values() if c.asset_class == "FUT" and c.currency == "USD")
    expired_opt = dataclasses.replace(opt, expiry=D(2026, 6, 19))
    expired_fut = dataclasses.replace(fut, expiry=D(2026, 6, 18))
    h = HistoryBuilder(_with_contract(_with_contract(world, expired_opt), expired_fut))
    assert _no_data(h, opt.conid, bar="1d", period="1y")  # expired options keep no history
    bars = _ask(h, fut.conid, bar="1d", period="1y")["data"]
    assert _day(bars[-1]["t"] + 86_400_000 // 2) == D(2026, 6, 18)  # a future's bars stop at its expiry
    assert _no_data(h, fut.conid, today=D(2028, 7, 1), bar="1d", period="1y")  # two years on: gone


def test_bad_parameters_are_refused(hist: HistoryBuilder, world: World) -> None:
    spy = _conid(world, "SPY")
    for params in ({"bar": "7min"}, {"bar": "30S"}, {"bar": "1d", "period": "9h"}, {"bar": "1d", "direction": "1"},
                   {"bar": "1d", "source": "Ask"}, {"bar": "1d", "startTime": "2026-11-20"}):
        with pytest.raises(HistoryError) as exc:
            _ask(hist, spy, **params)
        assert exc.value.status == 400 and exc.value.message != NO_DATA, params


def test_thousand_minute_bars_cost_well_under_50_ms(world: World) -> None:
    h = HistoryBuilder(world)
    _ask(h, _conid(world, "AAPL"), bar="1d", period="1d")  # builds the market's session list once
    costs = []
    for symbol in ("MSFT", "NVDA", "AMZN"):
        began = time.process_time()
        body = _ask(h, _conid(world, symbol), bar="1min", period="5d", startTime="20261105-21:00:00")
        json.dumps(body)
        costs.append(time.process_time() - began)
        assert len(body["data"]) == 1000
    assert min(costs) < 0.05, costs


@pytest.mark.parametrize("symbol, asset_class, outside_rth", [("SPY", "STK", False), ("SPY", "STK", True),
                                                               ("ASML", "STK", False), ("EUR", "CASH", False)])
@pytest.mark.parametrize("bar", ["1min", "5min", "1h"])
def test_session_bar_starts_are_the_starts_of_the_session_bars(
        hist: HistoryBuilder, world: World, symbol: str, asset_class: str, outside_rth: bool, bar: str) -> None:
    # Tests that need only when bars start ask for this rather than drawing every price again.
    contract = world.contracts[_conid(world, symbol, asset_class)]
    market = market_for(contract)
    source = "Midpoint" if asset_class == "CASH" else "Trades"
    query = parse_query({"conid": str(contract.conid), "bar": bar, "period": "1d", "source": source,
                         "outsideRth": str(outside_rth).lower()})
    sessions = hist.sessions(market, D(2026, 10, 26), D(2026, 11, 6))  # the week New York leaves daylight time
    assert len(sessions) >= 9
    for s in sessions:
        assert hist.session_bar_starts(market, s, query) == [b[0] for b in hist.session_bars(contract, market, s, query)]
