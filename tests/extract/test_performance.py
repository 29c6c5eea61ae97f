"""NAV and returns from /pa/allperiods: the daily period with the most dates, chained returns, chunked calls."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract import performance
from ibkr_pipelines.extract.performance import fetch_nav_and_returns, parse_allperiods
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import polars_schema
from ibkr_pipelines.windows import DateWindow

# The recorded answer's 7D series: startNAV 2026-03-26, dates through 2026-03-30 (the answer's end: 04-02).
RECORDED_WEEK = DateWindow(dt.date(2026, 3, 27), dt.date(2026, 4, 2))
MARCH = DateWindow(dt.date(2026, 3, 1), dt.date(2026, 4, 2))


def test_recorded_answer_reads_the_longest_daily_period(recorded) -> None:
    frames = parse_allperiods(recorded("Portfolio/POST-pa-allperiods.json"), window=RECORDED_WEEK)
    nav, returns = frames["nav_daily"], frames["returns_daily"]
    assert dict(nav.schema) == polars_schema("nav_daily") and dict(returns.schema) == polars_schema("returns_daily")
    # 7D has two dates, 1D one: the 7D series is read.
    assert nav.select("nav_date", "account_id", "nav", "base_currency", "period").rows() == [
        (dt.date(2026, 3, 27), "U1234567", 1004581.15, "USD", "7D"),
        (dt.date(2026, 3, 30), "U1234567", 1004840.8, "USD", "7D"),
    ]
    first, second = returns.to_dicts()
    assert first["return_date"] == dt.date(2026, 3, 27) and first["period_start"] == dt.date(2026, 3, 26)
    assert first["daily_return"] == pytest.approx(8.616e-5) and first["cumulative_return"] == 8.616e-5
    assert first["daily_return"] == pytest.approx(1004581.15 / 1004494.6 - 1, abs=1e-8), "first day vs startNAV"
    assert second["daily_return"] == pytest.approx((1 + 3.4465e-4) / (1 + 8.616e-5) - 1)
    assert second["daily_return"] == pytest.approx(1004840.8 / 1004581.15 - 1, abs=1e-8), "chained: NAV to NAV"
    assert second["cumulative_return"] == 3.4465e-4 and second["period"] == "7D"
    extra = json.loads(nav["raw_extra"][0])
    assert extra == {"start": "20260202", "end": "20260402", "lastSuccessfulUpdate": "2026-04-02 22:40:19",
                     "startNAV": {"date": "20260326", "val": 1004494.6}}
    for table, frame in frames.items():
        valid, quarantine = split_valid(table, frame)
        assert (valid.height, quarantine.height) == (2, 0)


def test_a_window_before_the_longest_daily_series_is_refused_in_one_line(recorded) -> None:
    # The recorded account's data starts 2026-02-02, but its longest daily series (7D) on 2026-03-26:
    # March cannot come from this answer, and landing it would leave holes that look like data.
    with pytest.raises(IbkrPipelinesError, match=r"starts on 2026-03-26, after 2026-03-01: land a shorter window"):
        parse_allperiods(recorded("Portfolio/POST-pa-allperiods.json"), window=MARCH)


def _period(dates: list[str], navs: list[Any], cps: list[Any], freq: str = "D", start: str = "20260227") -> dict[str, Any]:
    return {"freq": freq, "startNAV": {"date": start, "val": 100.0}, "dates": dates, "nav": navs, "cps": cps}


def _answer(**accounts: dict[str, Any]) -> dict[str, Any]:
    return {"pm": "TWR", "currencyType": "base", "view": list(accounts), "included": list(accounts), **accounts}


def test_ties_go_to_the_first_period_and_non_daily_periods_are_skipped() -> None:
    entry = {
        "1M": _period(["20260302", "20260303"], [101.0, 102.0], [0.01, 0.02]),
        "7D": _period(["20260302", "20260303"], [1.0, 2.0], [0.5, 0.6]),
        "YTD": _period(["202601", "202602", "202603"], [1.0, 2.0, 3.0], [0.1, 0.2, 0.3], freq="M"),
        "periods": ["1M", "7D", "YTD"], "baseCurrency": "EUR",
    }
    frames = parse_allperiods(_answer(U1=entry), window=MARCH)
    assert frames["nav_daily"]["period"].to_list() == ["1M", "1M"]
    assert frames["nav_daily"]["nav"].to_list() == [101.0, 102.0]
    assert frames["returns_daily"]["base_currency"].to_list() == ["EUR", "EUR"]


def test_window_keeps_its_dates_but_returns_chain_from_the_period() -> None:
    entry = {"1M": _period(["20260302", "20260303", "20260304"], [101.0, 103.02, 101.9898], [0.01, 0.0302, 0.019898]),
             "periods": ["1M"]}
    frames = parse_allperiods(_answer(U1=entry), window=DateWindow.of(dt.date(2026, 3, 4)))
    (row,) = frames["returns_daily"].to_dicts()
    assert row["return_date"] == dt.date(2026, 3, 4)
    assert row["daily_return"] == pytest.approx(-0.01), "relative to the 3rd, though the 3rd is outside the window"
    assert frames["nav_daily"]["nav"].to_list() == [101.9898]


def test_accounts_are_found_without_view_or_included() -> None:
    body = {"U1": {"1M": _period(["20260302"], [1.0], [0.0])}, "U2": {"1M": _period(["20260302"], [2.0], [0.0])},
            "rc": 0, "nd": 2}
    frames = parse_allperiods(body, window=MARCH)
    assert frames["nav_daily"]["account_id"].to_list() == ["U1", "U2"]


def test_every_account_of_the_answer_is_read() -> None:
    body = _answer(U1={"1M": _period(["20260302"], [1.0], [0.0])}, U2={"1M": _period(["20260303"], [2.0], [0.1])})
    frames = parse_allperiods(body, window=MARCH)
    assert frames["nav_daily"].select("account_id", "nav_date").rows() == [
        ("U1", dt.date(2026, 3, 2)), ("U2", dt.date(2026, 3, 3))]


def test_unreadable_values_are_quarantined_and_kept() -> None:
    entry = {"1M": _period(["20260302", "2026-03-03", "20260304"], [1.0, 2.0, "n/a"], [0.0, 0.1, 0.2]),
             "periods": ["1M"]}
    body = {**_answer(U1=entry), "pm": "MWR"}
    frames = parse_allperiods(body, window=MARCH)
    nav = frames["nav_daily"]
    assert nav["nav_date"].to_list() == [dt.date(2026, 3, 2), None, dt.date(2026, 3, 4)]
    assert json.loads(nav["raw_extra"][1])["date"] == "2026-03-03"
    assert json.loads(nav["raw_extra"][2])["nav"] == "n/a"
    assert json.loads(nav["raw_extra"][0])["pm"] == "MWR", "a return method other than TWR is noted"
    _, quarantine = split_valid("nav_daily", nav)
    assert dict(zip(quarantine["row_number"], quarantine["reason"])) == {
        1: "nav_date: not_nullable", 2: "nav: not_nullable"}


def test_no_daily_period_gives_no_rows() -> None:
    entry = {"YTD": _period(["202601"], [1.0], [0.1], freq="M"), "periods": ["YTD"]}
    frames = parse_allperiods(_answer(U1=entry), window=MARCH)
    assert frames["nav_daily"].height == 0 and frames["returns_daily"].height == 0


def _echo(json_body: dict[str, Any]) -> dict[str, Any]:
    """An answer for exactly the accounts asked, plus one nobody asked about."""
    accounts = {a: {"1M": _period(["20260302"], [1.0], [0.0])} for a in [*json_body["acctIds"], "U999"]}
    return _answer(**accounts)


def test_fetch_asks_once_for_150_accounts(fake_client) -> None:
    ids = tuple(f"U{i}" for i in range(150))
    client = fake_client({}, post_routes={"/pa/allperiods": _echo})
    frames = fetch_nav_and_returns(client, ids, MARCH)
    assert [path for path, _ in client.posted] == ["/pa/allperiods"]
    assert client.posted[0][1] == {"acctIds": list(ids)}
    assert frames["nav_daily"]["account_id"].to_list() == list(ids), "only the accounts asked"
    assert frames["returns_daily"].height == 150


def test_fetch_chunks_accounts(fake_client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(performance, "ALLPERIODS_ACCOUNTS_PER_CALL", 2)
    client = fake_client({}, post_routes={"/pa/allperiods": _echo})
    frames = fetch_nav_and_returns(client, ("U1", "U2", "U3"), MARCH)
    assert [body["acctIds"] for _, body in client.posted] == [["U1", "U2"], ["U3"]]
    assert frames["nav_daily"]["account_id"].to_list() == ["U1", "U2", "U3"]


def test_fetch_without_accounts_asks_nothing(fake_client) -> None:
    client = fake_client({}, post_routes={})
    frames = fetch_nav_and_returns(client, (), MARCH)
    assert client.posted == [] and frames["nav_daily"].height == 0
    assert dict(frames["returns_daily"].schema) == polars_schema("returns_daily")


@pytest.mark.parametrize("answer", [[], {"error": "Internal error"}, "oops"])
def test_fetch_raises_on_an_answer_that_is_not_per_account(fake_client, answer: Any) -> None:
    client = fake_client({}, post_routes={"/pa/allperiods": answer})
    with pytest.raises(IbkrPipelinesError, match="/pa/allperiods"):
        fetch_nav_and_returns(client, ("U1",), MARCH)
