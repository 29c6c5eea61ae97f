from __future__ import annotations

import datetime as dt
import json

import polars as pl

from ibkr_pipelines.extract.positions import fetch_positions, parse_positions
from ibkr_pipelines.schemas import polars_schema

DAY = dt.date(2026, 4, 2)
ACCOUNT = "U1234567"


def _row(conid, *, secdef: bool = True, **extra):
    row = {"acctId": ACCOUNT, "conid": conid, "contractDesc": f"C{conid}", "position": 1.0, "mktValue": 10.0,
           "currency": "USD", "assetClass": "STK", "strike": 0.0}
    if secdef:
        row.update(ticker=f"T{conid}", name=f"Name {conid}")
    row.update(extra)
    return row


def test_recorded_page0_maps_to_columns(recorded):
    df = parse_positions(recorded("Portfolio/GET-portfolio-positions-page0.json"), account_id=ACCOUNT, snapshot_date=DAY)
    assert dict(df.schema) == polars_schema("positions")
    row = df.row(0, named=True)
    assert row["conid"] == 320227571
    assert row["contract_desc"] == "QQQ"
    assert row["position"] == 3.0
    assert row["mkt_value"] == 1754.04
    assert row["avg_cost"] == 584.31333335
    assert row["unrealized_pnl"] == 1.1
    assert row["asset_class"] == "STK"
    assert row["strike"] == 0.0  # a number here
    assert row["multiplier"] is None  # null here, kept as given
    assert row["und_conid"] == 0
    assert row["ticker"] is None  # a cold read: no secdef fields


def test_recorded_position_with_secdef_and_string_strike(recorded):
    df = parse_positions(recorded("Portfolio/GET-portfolio-position-by-conid.json"), account_id=ACCOUNT, snapshot_date=DAY)
    row = df.row(0, named=True)
    assert row["strike"] == 0.0  # "0" on the wire
    assert row["multiplier"] == 0.0  # 0.0 kept as given
    assert (row["ticker"], row["name"], row["sec_type"], row["listing_exchange"]) == ("SPY", "SPDR S&P 500 ETF TRUST", "ETF", "ARCA")
    extra = json.loads(row["raw_extra"])
    assert extra["hasOptions"] is True and extra["pageSize"] == 100
    assert "acctId" not in extra and "ticker" not in extra


def test_string_conid_and_decimal_strike_text():
    df = parse_positions([_row("756733", strike="12.5", putOrCall="C")], account_id=ACCOUNT, snapshot_date=DAY)
    assert df["conid"].to_list() == [756733]
    assert df["strike"].to_list() == [12.5]
    assert df["put_or_call"].to_list() == ["C"]


def test_portfolio2_rows_parse_too(recorded):
    df = parse_positions(recorded("Portfolio/GET-portfolio2-positions.json"), account_id=ACCOUNT, snapshot_date=DAY)
    assert df["conid"].to_list() == [320227571, 756733]
    assert "marketValue" in json.loads(df["raw_extra"][0])  # different names are kept, not lost


def test_row_without_conid_is_kept_with_null_conid():
    rows = [_row(1), {k: v for k, v in _row(2).items() if k != "conid"}]
    df = parse_positions(rows, account_id=ACCOUNT, snapshot_date=DAY)
    assert df.height == 2
    assert df["conid"].to_list() == [1, None]


def test_unconvertible_value_is_kept_in_raw_extra():
    df = parse_positions([_row(1, strike="n/a")], account_id=ACCOUNT, snapshot_date=DAY)
    assert df["strike"][0] is None
    assert json.loads(df["raw_extra"][0])["strike"] == "n/a"


def test_paging_stops_on_the_first_short_page(fake_client):
    pages = {
        f"/portfolio/{ACCOUNT}/positions/0": [_row(i) for i in range(100)],
        f"/portfolio/{ACCOUNT}/positions/1": [_row(i) for i in range(100, 200)],
        f"/portfolio/{ACCOUNT}/positions/2": [_row(i) for i in range(200, 230)],
    }
    client = fake_client(pages)
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert client.paths() == list(pages)
    assert result.frame.height == 230
    assert result.pages == 3 and result.cold_read_retries == 0


def test_the_cache_is_invalidated_and_pages_ask_for_definitions_in_a_stated_order(fake_client):
    client = fake_client({f"/portfolio/{ACCOUNT}/positions/0": [_row(1)]})
    fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert client.posts == [f"/portfolio/{ACCOUNT}/positions/invalidate"]
    assert client.calls[0][1] == {"sort": "name", "direction": "a", "waitForSecDef": "true"}


def test_paging_stops_on_an_empty_page(fake_client):
    client = fake_client({
        f"/portfolio/{ACCOUNT}/positions/0": [_row(i) for i in range(100)],
        f"/portfolio/{ACCOUNT}/positions/1": [],
    })
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert result.frame.height == 100 and len(client.calls) == 2


def test_a_server_repeating_every_row_on_every_page_stops_paging(fake_client):
    everything = [_row(i) for i in range(100)]
    client = fake_client({f"/portfolio/{ACCOUNT}/positions/{n}": everything for n in range(5)})
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert result.frame.height == 100
    assert client.paths() == [f"/portfolio/{ACCOUNT}/positions/0", f"/portfolio/{ACCOUNT}/positions/1"]


def test_the_same_conid_under_two_models_is_two_rows(fake_client):
    rows = [_row(1, model=""), _row(1, model="Growth"), _row(2)]
    frame = fetch_positions(fake_client({f"/portfolio/{ACCOUNT}/positions/0": rows}), ACCOUNT, snapshot_date=DAY).frame
    assert sorted(zip(frame["conid"], frame["model"])) == [(1, ""), (1, "Growth"), (2, "")]


def test_a_sparse_page_is_read_again_and_the_fuller_answer_used(fake_client, answers):
    cold = [_row(1, secdef=False), _row(2, secdef=False)]
    warm = [_row(1), _row(2)]
    client = fake_client({f"/portfolio/{ACCOUNT}/positions/0": answers(cold, warm)})
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert client.paths() == [f"/portfolio/{ACCOUNT}/positions/0"] * 2
    assert result.cold_read_retries == 1
    assert result.frame["ticker"].to_list() == ["T1", "T2"]


def test_sparse_rows_on_a_later_page_are_read_again_too(fake_client, answers):
    page1_cold = [_row(i, secdef=False) for i in range(100, 110)]
    page1_warm = [_row(i) for i in range(100, 110)]
    client = fake_client({
        f"/portfolio/{ACCOUNT}/positions/0": [_row(i) for i in range(100)],
        f"/portfolio/{ACCOUNT}/positions/1": answers(page1_cold, page1_cold, page1_warm),
    })
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert result.frame["ticker"].null_count() == 0
    assert result.cold_read_retries == 2


def test_rows_that_stay_sparse_are_completed_from_secdef(fake_client):
    client = fake_client({
        f"/portfolio/{ACCOUNT}/positions/0": [_row(1), _row(2, secdef=False), _row(3, secdef=False)],
        "/trsrv/secdef": {"secdef": [{"conid": 2, "ticker": "T2", "name": "Name 2", "sector": "Tech"}]},
    })
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    frame = result.frame.sort("conid")
    assert frame["ticker"].to_list() == ["T1", "T2", None], "IBKR knew nothing of conid 3: left for quarantine"
    assert frame["sector"].to_list()[1] == "Tech"
    assert result.secdef_filled == 1
    assert ("/trsrv/secdef", {"conids": "2,3"}) in client.calls
    assert client.paths().count(f"/portfolio/{ACCOUNT}/positions/0") == 1 + 3, "read, then three re-reads"


def test_a_complete_first_read_is_not_repeated(fake_client):
    client = fake_client({f"/portfolio/{ACCOUNT}/positions/0": [_row(1), _row(2)]})
    result = fetch_positions(client, ACCOUNT, snapshot_date=DAY)
    assert len(client.calls) == 1 and result.cold_read_retries == 0


def test_fetch_keeps_a_row_without_conid(fake_client):
    rows = [_row(1), {k: v for k, v in _row(2).items() if k != "conid"}]
    client = fake_client({f"/portfolio/{ACCOUNT}/positions/0": rows})
    frame = fetch_positions(client, ACCOUNT, snapshot_date=DAY).frame
    assert frame["conid"].to_list() == [1, None]
    assert frame.schema["conid"] == pl.Int64
