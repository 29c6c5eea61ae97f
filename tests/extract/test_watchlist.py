"""The watchlist resolves symbols to conids from /trsrv/stocks; what does not resolve is quarantined with a reason."""

from __future__ import annotations

import datetime as dt
import json

from ibkr_pipelines.extract.watchlist import fetch_watchlist, parse_stocks
from ibkr_pipelines.land.validate import split_valid

DAY = dt.date(2026, 11, 20)


def test_the_recorded_answer_resolves_the_us_listing_or_the_named_exchange(recorded) -> None:
    body = recorded("Contracts/GET-trsrv-stocks.json")
    frame = parse_stocks(body, ("AAPL", "AAPL@TSE"), seen_date=DAY)
    rows = frame.select("entry", "conid", "name", "exchange", "is_us", "listings").rows()
    assert rows == [("AAPL", 265598, "APPLE INC", "NASDAQ", True, 4), ("AAPL@TSE", 532640894, "APPLE INC-CDR", "TSE", False, 4)]
    assert json.loads(frame["raw_extra"][0]) == {"chineseName": "Apple Inc"}
    valid, quarantine = split_valid("watchlist", frame)
    assert (valid.height, quarantine.height) == (2, 0)


def test_an_unknown_symbol_or_exchange_is_quarantined_saying_what_ibkr_lists(recorded) -> None:
    frame = parse_stocks(recorded("Contracts/GET-trsrv-stocks.json"), ("AAPL@XETRA", "NOPE"), seen_date=DAY)
    valid, quarantine = split_valid("watchlist", frame)
    assert valid.height == 0 and quarantine.height == 2
    assert all("conid" in reason for reason in quarantine["reason"].to_list())
    extras = [json.loads(r) for r in frame["raw_extra"]]
    assert extras[0] == {"unresolved": "IBKR lists EBS, MEXI, NASDAQ, TSE for AAPL"}
    assert extras[1] == {"unresolved": "IBKR lists nothing for NOPE"}


def test_symbols_are_asked_once_in_batches(fake_client) -> None:
    client = fake_client({"/trsrv/stocks": {"AAPL": [{"name": "APPLE INC", "assetClass": "STK",
                                                       "contracts": [{"conid": 265598, "exchange": "NASDAQ", "isUS": True}]}]}})
    frame = fetch_watchlist(client, ("AAPL", "AAPL@NASDAQ"), seen_date=DAY)
    assert frame["conid"].to_list() == [265598, 265598]
    assert client.calls == [("/trsrv/stocks", {"symbols": "AAPL"})]
