"""Executions from /iserver/account/trades: recorded answers, IBKR's spellings, windows, the cold first read."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.trades import ExecutionsFetch, fetch_executions, parse_trades
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import polars_schema
from ibkr_pipelines.windows import DateWindow

UTC = dt.timezone.utc
ACCOUNT = "U1234567"
DEC_11 = DateWindow.of(dt.date(2023, 12, 11))
WEEK = DateWindow(dt.date(2023, 12, 5), dt.date(2023, 12, 11))

# Reference §2.6: price and commission as text, net_amount a number, both time fields.
REFERENCE_TRADE: dict[str, Any] = {
    "execution_id": "0000e0d5.6576fd38.01.01", "symbol": "AAPL", "supports_tax_opt": "1", "side": "S",
    "order_description": "Sold 5 @ 192.26 on ISLAND", "trade_time": "20231211-18:00:49",
    "trade_time_r": 1702317649000, "size": 5.0, "price": "192.26", "order_ref": "Order123",
    "submitter": "user1234", "exchange": "ISLAND", "commission": "1.01", "net_amount": 961.3,
    "account": "U1234567", "accountCode": "U1234567", "account_allocation_name": "U1234567",
    "company_name": "APPLE INC", "contract_description_1": "AAPL", "sec_type": "STK",
    "listing_exchange": "NASDAQ.NMS", "conid": 265598, "conidEx": "265598", "clearing_id": "IB",
    "clearing_name": "IB", "liquidation_trade": "0", "is_event_trading": "0", "order_id": 17437897932,
}


def trade(**fields: Any) -> dict[str, Any]:
    """The reference's execution with some fields replaced (None removes a field)."""
    row = dict(REFERENCE_TRADE)
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


def test_reference_example_converts_text_numbers_and_epoch_time() -> None:
    df = parse_trades([REFERENCE_TRADE], window=DEC_11)
    assert dict(df.schema) == polars_schema("executions")
    row = df.row(0, named=True)
    assert row["trade_date"] == dt.date(2023, 12, 11)
    assert row["trade_time"] == dt.datetime(2023, 12, 11, 18, 0, 49, tzinfo=UTC)
    assert (row["execution_id"], row["account_id"], row["conid"]) == ("0000e0d5.6576fd38.01.01", ACCOUNT, 265598)
    assert (row["side"], row["quantity"], row["price"]) == ("S", 5.0, 192.26)
    assert (row["commission"], row["net_amount"]) == (1.01, 961.3)
    assert (row["exchange"], row["listing_exchange"], row["sec_type"]) == ("ISLAND", "NASDAQ.NMS", "STK")
    assert row["order_id"] == 17437897932 and row["order_ref"] == "Order123"
    assert row["order_description"] == "Sold 5 @ 192.26 on ISLAND"
    assert (row["company_name"], row["contract_description"]) == ("APPLE INC", "AAPL")
    assert (row["submitter"], row["clearing_id"], row["liquidation_trade"]) == ("user1234", "IB", False)
    extra = json.loads(row["raw_extra"])
    assert extra == {"supports_tax_opt": "1", "account_allocation_name": "U1234567", "clearing_name": "IB",
                     "is_event_trading": "0"}, "repeats of conid, account and time are not kept twice"
    valid, quarantine = split_valid("executions", df)
    assert valid.height == 1 and quarantine.height == 0


def test_recorded_trade_reads_bot_and_a_numeric_price(recorded) -> None:
    body = recorded("Orders/GET-trades.json")
    df = parse_trades(body, window=DEC_11, account_id=ACCOUNT)
    row = df.row(0, named=True)
    assert (row["execution_id"], row["conid"], row["symbol"]) == ("00018fae.67890abc.01.01", 756733, "SPY")
    assert (row["side"], row["quantity"], row["price"]) == ("B", 1.0, 647.09)
    assert (row["order_ref"], row["submitter"], row["account_id"]) == ("Order123", "U1234567", ACCOUNT)
    # The recording carries no time at all: its date is unknown, so the row is kept for quarantine.
    assert row["trade_time"] is None and row["trade_date"] is None
    _, quarantine = split_valid("executions", df)
    assert quarantine["reason"].to_list() == ["trade_date: not_nullable; trade_time: not_nullable"]


def test_recorded_trade_with_a_time_lands() -> None:
    body = [{"execution_id": "00018fae.67890abc.01.01", "conid": 756733, "symbol": "SPY", "side": "BOT",
             "size": 1.0, "price": 647.09, "trade_time_r": 1775086847000, "account": ACCOUNT}]
    df = parse_trades(body, window=DateWindow.of(dt.date(2026, 4, 1)))
    assert df["trade_date"].to_list() == [dt.date(2026, 4, 1)]  # 23:40 UTC is 19:40 in New York
    valid, quarantine = split_valid("executions", df)
    assert (valid.height, quarantine.height) == (1, 0)


def test_recorded_empty_answer_is_an_empty_frame(recorded) -> None:
    df = parse_trades(recorded("Orders/GET-trades-empty.json"), window=DEC_11)
    assert df.height == 0 and dict(df.schema) == polars_schema("executions")


@pytest.mark.parametrize(
    ("sent", "side"),
    [("B", "B"), ("BOT", "B"), ("BUY", "B"), ("BOUGHT", "B"), ("buy", "B"), (" bot ", "B"),
     ("S", "S"), ("SLD", "S"), ("SELL", "S"), ("SOLD", "S"), ("sold", "S")],
)
def test_side_spellings_become_b_or_s(sent: str, side: str) -> None:
    assert parse_trades([trade(side=sent)], window=DEC_11)["side"].to_list() == [side]


@pytest.mark.parametrize("sent", ["X", "SHORT", "", 1])
def test_an_unknown_side_is_quarantined_and_kept_as_sent(sent: Any) -> None:
    df = parse_trades([trade(side=sent)], window=DEC_11)
    assert df["side"].to_list() == [None]
    if sent != "":
        assert json.loads(df["raw_extra"][0])["side"] == sent
    _, quarantine = split_valid("executions", df)
    assert quarantine["reason"].to_list() == ["side: not_nullable"]


def test_trade_time_text_is_the_fallback_read_as_utc() -> None:
    df = parse_trades([trade(trade_time_r=None, trade_time="20231212-03:30:00")], window=DEC_11)
    # 03:30 UTC on the 12th is 22:30 on the 11th in New York: the 11th's trade.
    assert df["trade_time"].to_list() == [dt.datetime(2023, 12, 12, 3, 30, tzinfo=UTC)]
    assert df["trade_date"].to_list() == [dt.date(2023, 12, 11)]


def test_epoch_time_wins_and_a_disagreeing_text_is_kept() -> None:
    df = parse_trades([trade(trade_time="20231211-10:00:00")], window=DEC_11)
    assert df["trade_time"].to_list() == [dt.datetime(2023, 12, 11, 18, 0, 49, tzinfo=UTC)]
    assert json.loads(df["raw_extra"][0])["trade_time"] == "20231211-10:00:00"


def test_rows_outside_the_window_are_dropped() -> None:
    times = {"a": "20231205-15:00:00", "b": "20231211-15:00:00", "c": "20231212-15:00:00", "d": "20231204-15:00:00"}
    body = [trade(execution_id=k, trade_time_r=None, trade_time=t) for k, t in times.items()]
    assert parse_trades(body, window=DEC_11)["execution_id"].to_list() == ["b"]
    assert parse_trades(body, window=WEEK)["execution_id"].to_list() == ["a", "b"]


def test_malformed_rows_never_raise_and_are_quarantined_with_reasons() -> None:
    body = [
        trade(execution_id="ok"),
        trade(execution_id="neg", size=-5),
        trade(execution_id="noprice", price="n/a"),
        trade(execution_id="noconid", conid="abc", conidEx=None),
        "not an object",
    ]
    df = parse_trades(body, window=DEC_11, account_id=ACCOUNT)
    assert df.height == 5
    assert json.loads(df["raw_extra"][2])["price"] == "n/a"
    assert json.loads(df["raw_extra"][3])["conid"] == "abc"
    valid, quarantine = split_valid("executions", df)
    assert valid["execution_id"].to_list() == ["ok"]
    reasons = dict(zip(quarantine["row_number"], quarantine["reason"]))
    assert reasons[1] == "quantity_positive"
    assert reasons[2] == "price: not_nullable"
    assert reasons[3] == "conid: not_nullable"
    assert "execution_id: not_nullable" in reasons[4]


def test_a_repeated_execution_is_quarantined_once_seen() -> None:
    df = parse_trades([trade(), trade()], window=DEC_11)
    valid, quarantine = split_valid("executions", df)
    assert valid.height == 1
    assert quarantine["reason"].to_list() == ["duplicate natural key (execution_id=0000e0d5.6576fd38.01.01)"]


def test_account_falls_back_to_account_code_then_the_asked_account() -> None:
    rows = [trade(execution_id="1", account=None), trade(execution_id="2", account=None, accountCode=None),
            trade(execution_id="3", account="U1", accountCode="U2")]
    df = parse_trades(rows, window=DEC_11, account_id="U9")
    assert df["account_id"].to_list() == [ACCOUNT, "U9", "U1"]
    assert json.loads(df["raw_extra"][2])["accountCode"] == "U2"


def test_fetch_asks_for_seven_days_of_the_account(fake_client) -> None:
    client = fake_client({"/iserver/account/trades": [REFERENCE_TRADE]})
    fetched = fetch_executions(client, ACCOUNT, DEC_11)
    assert isinstance(fetched, ExecutionsFetch)
    assert client.calls == [("/iserver/account/trades", {"days": 7, "accountId": ACCOUNT})]
    assert fetched.frame.height == 1 and fetched.cold_read_retries == 0


def test_an_empty_first_answer_is_read_once_more(fake_client, answers) -> None:
    client = fake_client({"/iserver/account/trades": answers([], [REFERENCE_TRADE])})
    fetched = fetch_executions(client, ACCOUNT, DEC_11)
    assert fetched.cold_read_retries == 1 and fetched.frame["execution_id"].to_list() == ["0000e0d5.6576fd38.01.01"]
    assert len(client.calls) == 2


def test_a_second_empty_answer_means_no_trades(fake_client, recorded) -> None:
    client = fake_client({"/iserver/account/trades": recorded("Orders/GET-trades-empty.json")})
    fetched = fetch_executions(client, ACCOUNT, DEC_11)
    assert fetched.cold_read_retries == 1 and fetched.frame.height == 0
    assert len(client.calls) == 2, "read twice, not more"


def test_an_error_object_raises_naming_endpoint_and_account(fake_client) -> None:
    client = fake_client({"/iserver/account/trades": {"error": "Please query /accounts first"}})
    with pytest.raises(IbkrPipelinesError, match=r"/iserver/account/trades for account U1234567.*Please query"):
        fetch_executions(client, ACCOUNT, DEC_11)
