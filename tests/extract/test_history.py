"""History answers into `bars`: the recorded answer, prices and priceFactor, volume, "No data.", refusals, bad points."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from ibkr_pipelines.errors import ApiErrorBody
from ibkr_pipelines.extract import history
from ibkr_pipelines.extract.history import BarSeries, ContractNotServed, parse_history, read_history
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import polars_schema

UTC = dt.timezone.utc
SPY = BarSeries(756733, "1min", "Trades")
RECORDED = "MarketData/GET-history.json"


def test_the_recorded_answer_parses_into_the_spec_layout(recorded: Any) -> None:
    df = parse_history(recorded(RECORDED), SPY)
    assert dict(df.schema) == polars_schema("bars")
    assert df.height == 3
    row = df.row(0, named=True)
    assert row["bar_start_utc"] == dt.datetime(2026, 4, 2, 13, 30, tzinfo=UTC)  # 09:30 New York: the open
    assert row["bar_date"] == dt.date(2026, 4, 2)
    assert (row["conid"], row["symbol"], row["description"]) == (756733, "SPY", "SPDR S&P 500 ETF TRUST")
    assert (row["bar_size"], row["source"], row["outside_rth"]) == ("1min", "Trades", False)
    assert (row["md_availability"], row["market_data_delay_s"], row["raw_extra"]) == ("S", 0, None)
    valid, quarantine = split_valid("bars", df)
    assert valid.height == 3 and quarantine.height == 0


def test_prices_are_plain_and_price_factor_is_kept_not_applied(recorded: Any) -> None:
    body = recorded(RECORDED)
    row = parse_history(body, SPY).row(0, named=True)
    assert (row["open"], row["high"], row["low"], row["close"]) == (646.42, 647.47, 646.38, 646.86)
    assert row["price_factor"] == 100
    # The summary "high" is price*priceFactor: 65820 is 658.20, a plain price of the same scale as o/h/l/c.
    assert int(body["high"].split("/")[0]) / body["priceFactor"] == pytest.approx(658.20)


def test_volume_is_v_times_volume_factor_and_v_is_kept_as_sent(recorded: Any) -> None:
    df = parse_history(recorded(RECORDED), SPY)
    assert df.get_column("volume_reported").to_list() == [17219.125, 6730.7, 7782.55]
    assert df.get_column("volume_factor").to_list() == [40.0, 40.0, 40.0]
    volumes = df.get_column("volume").to_list()
    assert volumes == pytest.approx([688765.0, 269228.0, 311302.0])
    assert all(abs(v - round(v)) < 1e-6 for v in volumes), "v x volumeFactor is a whole number of shares"


def test_no_data_is_zero_bars_whether_tolerated_or_handed_over_as_sent() -> None:
    for body in (None, {"error": "No data."}, {"error": "no data"}):
        df = parse_history(body, SPY)
        assert df.height == 0 and dict(df.schema) == polars_schema("bars")


class _Refusing:
    """A client whose history request fails as the transport reports a 400 error body."""

    def __init__(self, text: str) -> None:
        self.text = text

    def get(self, path: str, params: Any = None) -> Any:
        raise ApiErrorBody(f"IBKR refused the request: {self.text}", endpoint=path, status=400, text=self.text)

    def post(self, path: str, json: Any = None, params: Any = None) -> Any:
        raise AssertionError("history never posts")


def test_a_400_no_data_reads_as_none_and_an_unknown_conid_as_one_line_naming_it() -> None:
    when = dt.datetime(2026, 4, 3, 0, 0, tzinfo=UTC)
    assert read_history(_Refusing("No data."), SPY, start_time=when, period="1d") is None
    with pytest.raises(ContractNotServed) as refused:
        read_history(_Refusing("Bad Request: conid is not valid: 756733"), SPY, start_time=when, period="1d")
    assert "conid 756733" in str(refused.value) and "\n" not in str(refused.value)


def test_a_200_error_body_other_than_no_data_names_the_conid() -> None:
    with pytest.raises(ContractNotServed, match="conid 756733.*contract expired"):
        parse_history({"error": "contract expired"}, SPY)


def test_bad_points_are_quarantined_with_a_reason(recorded: Any) -> None:
    body = recorded(RECORDED)
    good = body["data"][0]
    body["data"] = [
        good,
        {**good, "t": good["t"] + 60_000, "o": "n/a"},  # open does not convert
        {**good, "t": None},  # no start
        {**good, "t": good["t"] + 120_000, "h": 600.0},  # high below low
        "not a point",
    ]
    df = parse_history(body, SPY)
    assert df.height == 5
    assert json.loads(df.row(1, named=True)["raw_extra"]) == {"o": "n/a"}, "the value as sent is kept"
    valid, quarantine = split_valid("bars", df)
    assert valid.height == 1
    reasons = " | ".join(quarantine.get_column("reason").to_list())
    assert "open" in reasons and "bar_start_utc" in reasons and "prices_consistent" in reasons


def test_sources_take_ibkr_names() -> None:
    assert BarSeries(1, "1d", "last").source == "Trades"
    assert BarSeries(1, "1d", "BID_ASK").source == "Bid_Ask"
    with pytest.raises(ValueError, match="Trades, Midpoint, Bid_Ask"):
        BarSeries(1, "1d", "Bid")


def test_plain_points_built_column_wise_equal_the_per_point_rows(recorded: Any) -> None:
    """The fast path (every point plain) and the careful per-point path give the same frame, bar for bar."""
    body = recorded(RECORDED)
    fast = parse_history(body, SPY)
    assert history._plain_points_frame(body["data"], history._header(body), SPY) is not None
    header = history._header(body)
    careful = history.rows_to_frame("bars", [history._point_row(p, header, SPY) for p in body["data"]])
    assert fast.schema == careful.schema and fast.equals(careful)
    # A point that is not plain (a price sent as text) sends the answer down the careful path.
    odd = {**body, "data": [*body["data"][:-1], {**body["data"][-1], "c": "646.1"}]}
    assert history._plain_points_frame(odd["data"], history._header(odd), SPY) is None
    assert parse_history(odd, SPY).height == len(body["data"])


@pytest.mark.parametrize(("change", "why"), [
    ({"v": True}, "a bool is not a number"),
    ({"o": None}, "null"),
    ({"t": 1.7e12}, "a start that is not a whole number"),
    ({"t": 0}, "a start at or before the epoch"),
    ({"x": 1}, "a seventh key"),
])
def test_one_point_that_is_not_plain_sends_the_whole_answer_down_the_careful_path(
    recorded: Any, change: dict[str, Any], why: str
) -> None:
    body = recorded(RECORDED)
    points = [*body["data"][:-1], {**body["data"][-1], **change}]
    assert history._plain_points_frame(points, history._header(body), SPY) is None, why
    renamed = [*body["data"][:-1], {("x" if k == "v" else k): v for k, v in body["data"][-1].items()}]
    assert history._plain_points_frame(renamed, history._header(body), SPY) is None, "six keys, but not these six"
    assert history._plain_points_frame([*body["data"][:-1], [1, 2]], history._header(body), SPY) is None, "not a dict"
