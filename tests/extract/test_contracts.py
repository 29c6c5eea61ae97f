from __future__ import annotations

import datetime as dt

from ibkr_pipelines.extract.contracts import conid_batches, fetch_contracts, parse_contracts
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)


def test_recorded_secdef_maps_to_columns(recorded):
    df = parse_contracts(recorded("Contracts/GET-trsrv-secdef.json"), snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("contracts")
    row = df.row(0, named=True)
    assert row["conid"] == 756733
    assert row["ticker"] == "SPY" and row["sec_type"] == "ETF" and row["asset_class"] == "STK"
    assert row["strike"] == 0.0  # "0" on the wire
    assert row["multiplier"] == 0.0
    assert row["is_us"] is True and row["has_options"] is True and row["is_event_contract"] is False
    assert row["first_seen_date"] == DAY and row["last_seen_date"] == DAY
    assert row["raw_extra"] is None


def test_secdef_without_optional_fields_and_with_new_ones():
    df = parse_contracts({"secdef": [{"conid": "8314", "ticker": "IBM", "chineseName": "&#x56FD;"}]}, snapshot_date=DAY)
    assert df["conid"].to_list() == [8314]
    assert df["name"][0] is None
    assert df["raw_extra"][0] == '{"chineseName":"&#x56FD;"}'


def test_450_conids_are_fetched_in_batches_of_200_200_50(fake_client):
    def secdef(params):
        return {"secdef": [{"conid": int(c), "ticker": f"T{c}"} for c in params["conids"].split(",")]}

    client = fake_client({"/trsrv/secdef": secdef})
    df = fetch_contracts(client, list(range(1, 451)), DAY)
    sizes = [len(params["conids"].split(",")) for _, params in client.calls]
    assert sizes == [200, 200, 50]
    assert df.height == 450 and df["conid"].n_unique() == 450


def test_204_means_no_rows(fake_client):
    client = fake_client({"/trsrv/secdef": None})
    df = fetch_contracts(client, [1, 2], DAY)
    assert df.height == 0 and dict(df.schema) == polars_schema("contracts")


def test_no_conids_means_no_calls(fake_client):
    client = fake_client({})
    assert fetch_contracts(client, [], DAY).height == 0 and client.calls == []


def test_batches_are_unique_integer_conids_in_order():
    assert conid_batches(["3", 1, 3, None, "x", 2], size=2) == [[3, 1], [2]]
