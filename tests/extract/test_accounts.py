from __future__ import annotations

import datetime as dt
import json

import polars as pl

from ibkr_pipelines.extract.accounts import fetch_accounts, parse_accounts
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)


def _account(account_id: str, **extra):
    record = {
        "id": account_id,
        "accountId": account_id,
        "accountTitle": f"Title {account_id}",
        "currency": "USD",
        "type": "INDIVIDUAL",
        "faclient": False,
        "accountStatus": 1769922000000,
        "parent": {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False, "isMultiplex": False},
    }
    record.update(extra)
    return record


def test_recorded_accounts_map_to_columns(recorded):
    df = parse_accounts(recorded("Portfolio/GET-portfolio-accounts.json"), snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("accounts")
    row = df.row(0, named=True)
    assert row["snapshot_date"] == DAY
    assert row["account_id"] == "U1234567"
    assert row["account_title"] == "Test User"
    assert row["account_type"] == "DEMO"
    assert row["base_currency"] == "USD"
    assert row["trading_type"] == "STKNOPT"
    assert row["business_type"] == "INDEPENDENT"
    assert row["ib_entity"] == "IBLLC-US"
    assert row["cust_type"] == "INDIVIDUAL"
    assert row["clearing_status"] == "O"
    assert row["is_fa_client"] is False
    assert row["is_master"] is False
    assert row["parent_account_id"] is None  # "" in the payload
    assert row["brokerage_access"] is True
    assert row["account_alias"] is None


def test_account_status_is_epoch_milliseconds_in_utc(recorded):
    df = parse_accounts(recorded("Portfolio/GET-portfolio-accounts.json"), snapshot_date=DAY)
    assert df.schema["account_status_at"] == pl.Datetime("us", "UTC")
    assert df["account_status_at"][0] == dt.datetime(2026, 2, 1, 5, 0, tzinfo=dt.timezone.utc)


def test_unmapped_fields_are_kept_in_raw_extra(recorded):
    body = recorded("Portfolio/GET-portfolio-accounts.json")
    body[0]["brandNewIbkrField"] = {"x": 1}
    extra = json.loads(parse_accounts(body, snapshot_date=DAY)["raw_extra"][0])
    assert extra["accountVan"] == "U1234567"
    assert extra["brandNewIbkrField"] == {"x": 1}
    assert extra["parent"] == {"mmc": [], "isMParent": False, "isMChild": False, "isMultiplex": False}
    assert "accountTitle" not in extra


def test_fa_client_flag_accepts_both_spellings():
    live = _account("U1", faclient=True)
    spec = _account("U2")
    del spec["faclient"]
    spec["faClient"] = True
    df = parse_accounts([live, spec], snapshot_date=DAY)
    assert df["is_fa_client"].to_list() == [True, True]


# Shapes of a live FA login's /portfolio/subaccounts ([FA-SAMPLE] in the research notes).
FA_MASTER = {"type": "FNF", "businessType": "FA", "faclient": False}
FA_CLIENT = {"type": "INDIVIDUAL", "businessType": "FA_CLIENT", "faclient": True, "noClientTrading": True}


def test_a_master_is_recognised_as_ibkr_lists_it_not_by_faclient_or_multiplex():
    master = _account("F1", **FA_MASTER)
    client = _account("U7", **FA_CLIENT)
    multiplex = _account("U8", parent={"mmc": [], "accountId": "", "isMParent": True})
    df = parse_accounts([master, client, multiplex], snapshot_date=DAY)
    assert df["is_master"].to_list() == [True, False, False]
    assert df["is_fa_client"].to_list() == [False, True, False]
    assert df["parent_account_id"].to_list() == [None, "F1", None], "a client listed under the master belongs to it"


def test_master_id_families_live_and_paper_fa_and_ibroker():
    ids = ["F1234567", "DF1234567", "I1234567", "DI1234567", "U1234567", "DU1234567"]
    df = parse_accounts([_account(i, type="INDIVIDUAL") for i in ids], snapshot_date=DAY)
    assert df["is_master"].to_list() == [True, True, True, True, False, False]


def test_individual_account_does_not_ask_for_subaccounts(fake_client):
    client = fake_client({"/portfolio/accounts": [_account("U1")]})
    df = fetch_accounts(client, snapshot_date=DAY)
    assert df["account_id"].to_list() == ["U1"]
    assert client.paths() == ["/portfolio/accounts"]


def test_master_reads_subaccounts_below_the_cap(fake_client):
    master = _account("F1", **FA_MASTER)
    subs = [master] + [_account(f"U{i}", **FA_CLIENT) for i in range(3)]
    client = fake_client({"/portfolio/accounts": [master], "/portfolio/subaccounts": subs})
    df = fetch_accounts(client, snapshot_date=DAY)
    assert df["account_id"].to_list() == ["F1", "U0", "U1", "U2"]  # master once
    assert "/portfolio/subaccounts2" not in client.paths()


def test_subaccounts_at_the_cap_page_through_subaccounts2(fake_client):
    master = _account("F1")  # the F prefix alone marks a master
    everyone = [_account(f"U{i:03d}") for i in range(130)]

    def page(params):
        n = int(params["page"])
        return {"metadata": {"total": 130, "pageSize": 20, "pageNum": n}, "subaccounts": everyone[n * 20 : n * 20 + 20]}

    client = fake_client(
        {"/portfolio/accounts": [master], "/portfolio/subaccounts": everyone[:100], "/portfolio/subaccounts2": page}
    )
    df = fetch_accounts(client, snapshot_date=DAY)
    pages = [params["page"] for path, params in client.calls if path == "/portfolio/subaccounts2"]
    assert pages == [0, 1, 2, 3, 4, 5, 6]  # 6 full pages + the short page of 10
    assert df.height == 131
    assert df["account_id"].n_unique() == 131


def test_subaccounts2_as_bare_array_stops_on_short_page(fake_client):
    master = _account("F1")
    everyone = [_account(f"U{i:03d}") for i in range(105)]
    client = fake_client(
        {
            "/portfolio/accounts": [master],
            "/portfolio/subaccounts": everyone[:100],
            "/portfolio/subaccounts2": lambda p: everyone[int(p["page"]) * 20 : int(p["page"]) * 20 + 20],
        }
    )
    df = fetch_accounts(client, snapshot_date=DAY)
    assert df.height == 106
    assert [p["page"] for path, p in client.calls if path == "/portfolio/subaccounts2"] == [0, 1, 2, 3, 4, 5]


def test_account_filter_keeps_only_requested_ids(fake_client):
    master = _account("F1")
    client = fake_client(
        {"/portfolio/accounts": [master], "/portfolio/subaccounts": [_account("U1"), _account("U2")]}
    )
    df = fetch_accounts(client, snapshot_date=DAY, account_ids=["U2"])
    assert df["account_id"].to_list() == ["U2"]
