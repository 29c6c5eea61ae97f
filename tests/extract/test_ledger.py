from __future__ import annotations

import datetime as dt
import json

from ibkr_pipelines.extract.ledger import fetch_ledger, parse_ledger
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)


def test_recorded_ledger_has_one_row_per_currency_and_base(recorded):
    df = parse_ledger(recorded("Portfolio/GET-portfolio-ledger.json"), account_id="U1234567", snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("ledger")
    assert df["currency"].to_list() == ["USD", "BASE"]
    base = df.filter(df["currency"] == "BASE").row(0, named=True)
    assert base["cash_balance"] == 971869.6
    assert base["net_liquidation_value"] == 1005165.5
    assert base["exchange_rate"] == 1.0  # an int on the wire
    assert base["stock_market_value"] == 30613.4
    assert base["interest"] == 2682.45
    assert base["crypto_value"] == 0.0
    assert base["reported_at"] == dt.datetime(2026, 4, 2, 22, 40, 6, tzinfo=dt.timezone.utc)


def test_ledger_keeps_bookkeeping_and_new_fields_in_raw_extra(recorded):
    body = recorded("Portfolio/GET-portfolio-ledger.json")
    body["USD"]["someNewBalance"] = 12.0
    df = parse_ledger(body, account_id="U1234567", snapshot_date=DAY)
    extra = json.loads(df["raw_extra"][0])
    assert extra["someNewBalance"] == 12.0
    assert extra["key"] == "LedgerList"
    assert "cashbalance" not in extra and "currency" not in extra and "acctcode" not in extra


def test_fetch_ledger(fake_client, recorded):
    client = fake_client({"/portfolio/U1234567/ledger": recorded("Portfolio/GET-portfolio-ledger.json")})
    assert fetch_ledger(client, "U1234567", snapshot_date=DAY).height == 2
