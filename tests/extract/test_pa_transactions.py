"""PA transactions from /pa/transactions: recorded answers, dates, seq numbering, one call per conid."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.pa_transactions import (
    date_from_text,
    days_back,
    fetch_pa_transactions,
    parse_pa_transactions,
)
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import polars_schema
from ibkr_pipelines.windows import DateWindow

MAR_31, APR_1, APR_2 = dt.date(2026, 3, 31), dt.date(2026, 4, 1), dt.date(2026, 4, 2)
TWO_DAYS = DateWindow(MAR_31, APR_1)

# Reference §2.7: newest first, no rawDate, qty negative for a sell.
REFERENCE_ANSWER = {
    "rc": 0, "nd": 4, "currency": "USD", "from": 1702270800000, "id": "getTransactions", "to": 1702530000000,
    "includesRealTime": True,
    "rpnl": {"data": [{"date": "20231211", "cur": "USD", "fxRate": 1, "side": "L", "acctid": "U1234567",
                       "amt": "12.2516", "conid": "265598"}], "amt": "12.2516"},
    "transactions": [{"date": "Mon Dec 11 00:00:00 EST 2023", "cur": "USD", "fxRate": 1, "pr": 192.26, "qty": -5,
                      "acctid": "U1234567", "amt": 961.3, "conid": 265598, "type": "Sell", "desc": "Apple Inc"}],
}


def test_recorded_transactions(recorded) -> None:
    df = parse_pa_transactions(recorded("Portfolio/POST-pa-transactions.json"), window=TWO_DAYS)
    assert dict(df.schema) == polars_schema("pa_transactions")
    rows = df.to_dicts()
    assert [(r["trade_date"], r["seq"]) for r in rows] == [(MAR_31, 1), (APR_1, 1)]
    first = rows[0]
    assert (first["account_id"], first["conid"], first["type"]) == ("U1234567", 756733, "Buy")
    assert (first["quantity"], first["price"], first["amount"]) == (4.0, 645.155, -2580.62)
    assert (first["currency"], first["fx_rate"], first["description"]) == ("USD", 1.0, "SPDR S&P 500 ETF TRUST")
    assert first["raw_extra"] is None, "date repeats rawDate: nothing else to keep"
    assert rows[1]["quantity"] == 18.0 and rows[1]["amount"] == -11789.55
    valid, quarantine = split_valid("pa_transactions", df)
    assert (valid.height, quarantine.height) == (2, 0)


def test_window_drops_other_dates(recorded) -> None:
    df = parse_pa_transactions(recorded("Portfolio/POST-pa-transactions.json"), window=DateWindow.of(APR_1))
    assert df["trade_date"].to_list() == [APR_1]


def test_reference_example_reads_the_date_text() -> None:
    df = parse_pa_transactions(REFERENCE_ANSWER, window=DateWindow.of(dt.date(2023, 12, 11)))
    row = df.row(0, named=True)
    assert (row["trade_date"], row["seq"], row["conid"], row["account_id"]) == (
        dt.date(2023, 12, 11), 1, 265598, "U1234567")
    assert (row["type"], row["quantity"], row["price"], row["amount"], row["fx_rate"]) == ("Sell", -5.0, 192.26, 961.3, 1.0)


@pytest.mark.parametrize(
    ("text", "day"),
    [("Tue Mar 31 00:00:00 EDT 2026", MAR_31), ("Mon Dec 11 00:00:00 EST 2023", dt.date(2023, 12, 11)),
     ("Wed Apr 01 00:00:00 EDT 2026", APR_1), ("Tue Feb 30 00:00:00 EST 2026", None), ("31/03/2026", None),
     ("", None), (None, None)],
)
def test_date_text(text: Any, day: dt.date | None) -> None:
    assert date_from_text(text) == day


def _tx(date: str, qty: float, conid: int = 756733, account: str = "U1") -> dict[str, Any]:
    return {"rawDate": date, "qty": qty, "pr": 10.0, "amt": -10.0 * qty, "cur": "USD", "fxRate": 1.0,
            "acctid": account, "conid": conid, "type": "Buy" if qty > 0 else "Sell", "desc": "X"}


def _seqs(body: list[dict[str, Any]]) -> list[tuple[dt.date, float, int]]:
    df = parse_pa_transactions({"transactions": body}, window=TWO_DAYS)
    return sorted(df.select("trade_date", "quantity", "seq").rows())


def test_seq_counts_each_date_oldest_first_in_a_newest_first_list() -> None:
    # The reference's order: newest first, so on the 31st qty 3 came before qty 2 before qty 1.
    body = [_tx("20260401", 9), _tx("20260331", 1), _tx("20260331", 2), _tx("20260331", 3)]
    assert _seqs(body) == [(MAR_31, 1.0, 3), (MAR_31, 2.0, 2), (MAR_31, 3.0, 1), (APR_1, 9.0, 1)]


def test_seq_counts_each_date_oldest_first_in_an_oldest_first_list() -> None:
    # The recording's order: oldest first.
    body = [_tx("20260331", 1), _tx("20260331", 2), _tx("20260331", 3), _tx("20260401", 9)]
    assert _seqs(body) == [(MAR_31, 1.0, 1), (MAR_31, 2.0, 2), (MAR_31, 3.0, 3), (APR_1, 9.0, 1)]


def test_seq_is_counted_per_account_and_conid() -> None:
    body = [_tx("20260331", 1, account="U1"), _tx("20260331", 2, account="U2"), _tx("20260331", 3, conid=1)]
    df = parse_pa_transactions({"transactions": body}, window=TWO_DAYS)
    assert df["seq"].to_list() == [1, 1, 1]
    valid, _ = split_valid("pa_transactions", df)
    assert valid.height == 3


def test_malformed_rows_are_quarantined_with_reasons() -> None:
    body = {"transactions": [_tx("20260331", 1), {**_tx("2026-03-31", 1), "date": "yesterday"},
                             {**_tx("20260331", 2), "acctid": None}, "junk"]}
    df = parse_pa_transactions(body, window=TWO_DAYS)
    assert json.loads(df["raw_extra"][1]) == {"rawDate": "2026-03-31", "date": "yesterday"}
    valid, quarantine = split_valid("pa_transactions", df)
    assert valid.height == 1
    reasons = dict(zip(quarantine["row_number"], quarantine["reason"]))
    assert reasons[1] == "trade_date: not_nullable"
    assert reasons[2] == "account_id: not_nullable"
    assert "conid: not_nullable" in reasons[3]


def test_the_asked_account_and_conid_stand_in_for_missing_ones() -> None:
    body = {"transactions": [{"rawDate": "20260331", "qty": 1.0, "type": "Buy"}]}
    df = parse_pa_transactions(body, window=TWO_DAYS, account_id="U5", conid=42)
    assert df.select("account_id", "conid").rows() == [("U5", 42)]


@pytest.mark.parametrize(("start", "today", "days"), [(MAR_31, APR_2, 3), (APR_2, APR_2, 1), (APR_2, MAR_31, 1)])
def test_days_back_reaches_the_window_start(start: dt.date, today: dt.date, days: int) -> None:
    assert days_back(DateWindow(start, max(start, today)), today) == days


def test_fetch_asks_once_per_conid(fake_client, recorded) -> None:
    answer = recorded("Portfolio/POST-pa-transactions.json")

    def route(body: dict[str, Any]) -> Any:
        return answer if body["conids"] == [756733] else {"transactions": [], "rc": 0}

    client = fake_client({}, post_routes={"/pa/transactions": route})
    df = fetch_pa_transactions(client, ("U1234567",), [756733, 8314], TWO_DAYS, APR_2)
    assert client.posted == [
        ("/pa/transactions", {"acctIds": ["U1234567"], "conids": [756733], "days": 3}),
        ("/pa/transactions", {"acctIds": ["U1234567"], "conids": [8314], "days": 3}),
    ]
    assert df.select("trade_date", "conid", "seq").rows() == [(MAR_31, 756733, 1), (APR_1, 756733, 1)]


def test_fetch_without_conids_asks_nothing(fake_client) -> None:
    client = fake_client({}, post_routes={})
    df = fetch_pa_transactions(client, ("U1",), [], TWO_DAYS, APR_2)
    assert client.posted == [] and df.height == 0 and dict(df.schema) == polars_schema("pa_transactions")


def test_fetch_raises_on_an_error_answer(fake_client) -> None:
    client = fake_client({}, post_routes={"/pa/transactions": {"error": "Bad Request"}})
    with pytest.raises(IbkrPipelinesError, match="/pa/transactions for conid 8314"):
        fetch_pa_transactions(client, ("U1",), [8314], TWO_DAYS, APR_2)
