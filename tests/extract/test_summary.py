from __future__ import annotations

import datetime as dt
import json

from ibkr_pipelines.extract.summary import fetch_account_summary, parse_account_summary
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)


def test_recorded_summary_is_long_form(recorded):
    df = parse_account_summary(recorded("Portfolio/GET-portfolio-summary.json"), account_id="U1234567", snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("account_summary")
    assert df["metric"].to_list() == ["accountcode", "netliquidation", "buyingpower", "totalcashvalue", "initmarginreq"]
    net = df.filter(df["metric"] == "netliquidation").row(0, named=True)
    assert net["amount"] == 1005165.5
    assert net["currency"] == "USD"
    assert net["value_text"] == "1005165.5"
    assert net["is_null"] is False
    assert net["severity"] == 0
    code = df.filter(df["metric"] == "accountcode").row(0, named=True)
    assert code["value_text"] == "U1234567" and code["currency"] is None


def test_summary_timestamp_is_epoch_seconds(recorded):
    df = parse_account_summary(recorded("Portfolio/GET-portfolio-summary.json"), account_id="U1234567", snapshot_date=DAY)
    assert df["reported_at"][0] == dt.datetime(2026, 4, 2, 22, 40, 6, tzinfo=dt.timezone.utc)


def test_unknown_metric_fields_land_in_raw_extra():
    body = {"accruedcash-c": {"amount": 1.5, "currency": "USD", "isNull": False, "timestamp": 1, "value": "1.5",
                              "severity": 0, "newThing": "kept"}}
    df = parse_account_summary(body, account_id="U1", snapshot_date=DAY)
    assert df["metric"].to_list() == ["accruedcash-c"]
    assert json.loads(df["raw_extra"][0]) == {"newThing": "kept"}


def test_fetch_calls_the_account_summary(fake_client, recorded):
    client = fake_client({"/portfolio/U1234567/summary": recorded("Portfolio/GET-portfolio-summary.json")})
    df = fetch_account_summary(client, "U1234567", snapshot_date=DAY)
    assert df.height == 5 and set(df["account_id"]) == {"U1234567"}


def test_summary_timestamps_in_seconds_or_milliseconds_are_both_read() -> None:
    # Seconds in a recording; milliseconds in IBKR's OpenAPI example and live FA samples.
    body = {
        "netliquidation": {"amount": 1.0, "currency": "USD", "isNull": False, "timestamp": 1775169606, "value": None},
        "totalcashvalue": {"amount": 2.0, "currency": "USD", "isNull": False, "timestamp": 1775169606000, "value": None},
    }
    df = parse_account_summary(body, account_id="U1", snapshot_date="2026-04-02")
    expected = dt.datetime(2026, 4, 2, 22, 40, 6, tzinfo=dt.timezone.utc)
    assert df["reported_at"].to_list() == [expected, expected]
    assert df["value_text"].to_list() == [None, None]
