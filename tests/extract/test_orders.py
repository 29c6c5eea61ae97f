"""Orders from /iserver/account/orders: recorded answers, the pre-flight call, the account filter, IBKR's cap."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest

from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.extract.orders import ORDERS_CAP, OrdersFetch, fetch_orders, parse_orders
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import polars_schema

UTC = dt.timezone.utc
DAY = dt.date(2026, 4, 1)


def test_recorded_orders(recorded) -> None:
    df = parse_orders(recorded("Orders/GET-live-orders.json"), snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("orders")
    row = df.row(0, named=True)
    assert (row["snapshot_date"], row["order_id"], row["account_id"]) == (DAY, 473740665, "U1234567")
    assert (row["conid"], row["symbol"], row["sec_type"]) == (756733, "SPY", "STK")
    assert (row["side"], row["status"], row["order_ccp_status"]) == ("B", "Filled", "Filled")
    assert (row["order_type"], row["orig_order_type"], row["time_in_force"]) == ("Market", "MARKET", "CLOSE")
    assert row["limit_price"] is None, "a market order's price is \"\""
    assert row["avg_price"] == 647.09
    assert (row["total_size"], row["filled_quantity"], row["remaining_quantity"]) == (1.0, 1.0, 0.0)
    assert row["total_cash_size"] is None and row["cash_currency"] == "USD"
    assert (row["listing_exchange"], row["company_name"]) == ("ARCA", "SS SPDR S&P 500 ETF TRUST-US")
    assert row["description"] == "Bought 1 SPY Market, Day"
    assert row["last_execution_time"] == dt.datetime(2026, 4, 1, 23, 40, 47, tzinfo=UTC)
    extra = json.loads(row["raw_extra"])
    assert extra == {"sizeAndFills": "1", "description1": "SPY", "supportsTaxOpt": "1", "bgColor": "#FFFFFF",
                     "fgColor": "#000000", "isEventTrading": "0"}, "repeats (account, conidex, time) not kept twice"
    valid, quarantine = split_valid("orders", df)
    assert (valid.height, quarantine.height) == (1, 0)


def test_recorded_empty_orders(recorded) -> None:
    df = parse_orders(recorded("Orders/GET-live-orders-empty.json"), snapshot_date=DAY)
    assert df.height == 0 and dict(df.schema) == polars_schema("orders")


def order(order_id: Any, **fields: Any) -> dict[str, Any]:
    row = {"acct": "U1", "orderId": order_id, "conid": 8314, "ticker": "IBM", "status": "Submitted",
           "side": "SELL", "price": "150.5", "totalSize": 10.0}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


def test_limit_price_text_side_and_time_text_fallback() -> None:
    df = parse_orders({"orders": [order(1, lastExecutionTime="260401143000")]}, snapshot_date=DAY)
    row = df.row(0, named=True)
    assert (row["side"], row["limit_price"]) == ("S", 150.5)
    assert row["last_execution_time"] == dt.datetime(2026, 4, 1, 14, 30, tzinfo=UTC), "YYMMDDhhmmss read as UTC"


@pytest.mark.parametrize(("sent", "side"), [("BUY", "B"), ("B", "B"), ("SELL", "S"), ("S", "S"), ("SSHORT", None)])
def test_order_sides(sent: str, side: str | None) -> None:
    assert parse_orders([order(1, side=sent)], snapshot_date=DAY)["side"].to_list() == [side]


def test_malformed_orders_are_quarantined_with_reasons() -> None:
    body = {"orders": [order(1), order(2, status=None), order("x"), order(4, acct=None), 7]}
    df = parse_orders(body, snapshot_date=DAY)
    assert json.loads(df["raw_extra"][2])["orderId"] == "x"
    valid, quarantine = split_valid("orders", df, partition_key=DAY.isoformat())
    assert valid["order_id"].to_list() == [1]
    reasons = dict(zip(quarantine["row_number"], quarantine["reason"]))
    assert reasons[1] == "status: not_nullable"
    assert reasons[2] == "order_id: not_nullable"
    assert reasons[3] == "account_id: not_nullable"
    assert "order_id: not_nullable" in reasons[4] and "status: not_nullable" in reasons[4]


def test_account_comes_from_acct_else_account() -> None:
    df = parse_orders([order(1, acct=None, account="U7"), order(2, account="U8")], snapshot_date=DAY)
    assert df["account_id"].to_list() == ["U7", "U1"]
    assert json.loads(df["raw_extra"][1])["account"] == "U8"


def _orders_route(body: Any):
    def answer(params: dict[str, Any]) -> Any:
        return [] if params.get("force") == "true" else body  # force=true clears the cache and answers []

    return answer


def test_fetch_clears_the_cache_then_reads(fake_client, recorded) -> None:
    client = fake_client({"/iserver/account/orders": _orders_route(recorded("Orders/GET-live-orders.json"))})
    fetched = fetch_orders(client, DAY, None)
    assert isinstance(fetched, OrdersFetch)
    assert client.calls == [("/iserver/account/orders", {"force": "true"}), ("/iserver/account/orders", {})]
    assert fetched.frame["order_id"].to_list() == [473740665] and not fetched.capped


def test_fetch_keeps_the_asked_accounts(fake_client) -> None:
    body = {"orders": [order(1), order(2, acct="U2"), order(3, acct="U3"), order(4, acct=None)]}
    client = fake_client({"/iserver/account/orders": _orders_route(body)})
    frame = fetch_orders(client, DAY, ("U1", "U3")).frame
    assert frame["order_id"].to_list() == [1, 3, 4], "a row naming no account stays, for quarantine"
    assert fetch_orders(client, DAY, None).frame.height == 4


def test_a_full_answer_is_flagged_capped(fake_client, caplog: pytest.LogCaptureFixture) -> None:
    body = {"orders": [order(i) for i in range(ORDERS_CAP)], "snapshot": True}
    client = fake_client({"/iserver/account/orders": _orders_route(body)})
    with caplog.at_level(logging.WARNING):
        fetched = fetch_orders(client, DAY, None)
    assert fetched.capped and fetched.frame.height == 1000
    assert "cap of 1000" in caplog.text


def test_an_error_object_raises(fake_client) -> None:
    client = fake_client({"/iserver/account/orders": _orders_route({"error": "no bridge"})})
    with pytest.raises(IbkrPipelinesError, match="/iserver/account/orders.*no bridge"):
        fetch_orders(client, DAY, None)
