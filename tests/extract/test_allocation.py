from __future__ import annotations

import datetime as dt

from ibkr_pipelines.extract.allocation import fetch_allocation, parse_allocation
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)


def test_recorded_allocation_is_flattened(recorded):
    df = parse_allocation(recorded("Portfolio/GET-portfolio-allocation.json"), account_id="U1234567", snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("allocation")
    assert df.select("dimension", "side", "bucket", "value").rows() == [
        ("asset_class", "long", "STK", 30613.4),
        ("asset_class", "long", "CASH", 971869.6),
        ("sector", "long", "Others", 30613.4),
        ("group", "long", "Others", 30613.4),
    ]


def test_short_side_and_new_dimensions_are_kept():
    body = {
        "assetClass": {"long": {"STK": 10.0}, "short": {"STK": -4.0}},
        "countryOfRisk": {"long": {"US": 10.0}},
        "sector": {"long": {"Tech": "n/a"}},
    }
    df = parse_allocation(body, account_id="U1", snapshot_date=DAY)
    assert ("asset_class", "short", "STK", -4.0) in df.select("dimension", "side", "bucket", "value").rows()
    assert "country_of_risk" in df["dimension"].to_list()
    odd = df.filter(df["dimension"] == "sector").row(0, named=True)
    assert odd["value"] is None and odd["raw_extra"] == '{"value":"n/a"}'


def test_fetch_allocation(fake_client, recorded):
    client = fake_client({"/portfolio/U1/allocation": recorded("Portfolio/GET-portfolio-allocation.json")})
    assert fetch_allocation(client, "U1", snapshot_date=DAY).height == 4
