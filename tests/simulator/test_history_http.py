"""History and contract search over HTTP: shapes held to the recordings, No data., /hmds, concurrency."""

from __future__ import annotations

import threading
from typing import Any, Callable

import requests

from ibkr_pipelines.simulator import Simulator

from .conftest import open_brokerage
from .test_fidelity import recorded_body, shape_errors

HISTORY = "/iserver/marketdata/history"


def _conid(sim: Simulator, symbol: str) -> int:
    return sim.world.by_symbol[symbol][0].conid


def _kinds(body: dict[str, Any]) -> dict[str, str]:
    return {k: "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
            for k, v in body.items()}


def test_history_keys_and_types_are_the_recordings(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    recorded = recorded_body("MarketData/GET-history.json")
    extra = {"chartPanStartTime": "str", "direction": "number", "points": "number", "travelTime": "number"}
    for params in ({"bar": "1min", "period": "1d"}, {"bar": "1d", "period": "1y", "source": "Bid_Ask"},
                   {"bar": "1h", "period": "1w", "source": "Midpoint", "outsideRth": "true"}):
        r = http.get(sim.base_url + HISTORY, params={"conid": _conid(sim, "SPY"), **params})
        assert r.status_code == 200, r.text
        body = r.json()
        assert not shape_errors(recorded, body)
        assert _kinds(body) == {**_kinds(recorded), **extra}  # no key the recording lacks but the OpenAPI's four
        assert all(list(bar) == list(recorded["data"][0]) for bar in body["data"])  # o, c, h, l, v, t


def test_no_data_is_an_error_body(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    spy = _conid(sim, "SPY")
    for start in ("20261115-20:00:00", "20260403-23:59:00", "20231201-00:00:00"):  # Sunday, Good Friday, pre-listing
        r = http.get(sim.base_url + HISTORY, params={"conid": spy, "bar": "1h", "period": "8h", "startTime": start})
        assert r.status_code == 400 and r.json() == {"error": "No data."}, (start, r.text)


def test_hmds_history_answers_404_first_then_the_same_bars(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    params = {"conid": _conid(sim, "SPY"), "bar": "5min", "period": "1d"}
    first = http.get(sim.base_url + "/hmds/history", params=params)
    assert first.status_code == 404
    hmds = http.get(sim.base_url + "/hmds/history", params={**params, "barType": "Last"})
    iserver = http.get(sim.base_url + HISTORY, params=params)
    assert hmds.status_code == iserver.status_code == 200
    assert hmds.json()["data"] == iserver.json()["data"]
    bid = http.get(sim.base_url + "/hmds/history", params={**params, "barType": "Bid"}).json()["data"]
    ask = http.get(sim.base_url + "/hmds/history", params={**params, "barType": "Ask"}).json()["data"]
    assert all(b["c"] < a["c"] for b, a in zip(bid, ask))


def test_hmds_auth_init_spares_the_first_404(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim()
    assert http.post(sim.base_url + "/hmds/auth/init").status_code == 200
    r = http.get(sim.base_url + "/hmds/history", params={"conid": _conid(sim, "SPY"), "bar": "1d", "period": "1w"})
    assert r.status_code == 200


def _concurrent(sim: Simulator, n: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)
    conids = [c.conid for c in sorted(sim.world.contracts.values(), key=lambda c: c.conid)
              if c.asset_class == "STK"][:n]

    def worker(conid: int) -> None:
        with requests.Session() as s:
            barrier.wait()
            r = s.get(sim.base_url + HISTORY, params={"conid": conid, "bar": "1min", "period": "1d"})
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(c,)) for c in conids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def test_five_requests_in_flight_pass_a_sixth_gets_429(make_sim: Callable[..., Simulator],
                                                        http: requests.Session) -> None:
    five = make_sim(latency={"history": 0.5})
    open_brokerage(http, five)
    assert _concurrent(five, 5) == [200] * 5
    six = make_sim(latency={"history": 0.5})
    open_brokerage(http, six)
    statuses = _concurrent(six, 6)
    assert sorted(statuses) == [200] * 5 + [429]
    assert six.stats()["scopes"]["history"]["max_concurrency"] == 6


def test_secdef_search_and_trsrv_stocks_shapes_resolve_a_watchlist(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    search_rec = recorded_body("Contracts/GET-secdef-search.json")
    stocks_rec = recorded_body("Contracts/GET-trsrv-stocks.json")
    watchlist = ["SPY", "AAPL", "SAP", "7203", "BP."]
    for symbol in watchlist:
        found = http.get(sim.base_url + "/iserver/secdef/search", params={"symbol": symbol}).json()
        assert found and not shape_errors(search_rec, found)
        assert all(isinstance(x["conid"], str) and x["symbol"] == symbol for x in found)
        assert {int(x["conid"]) for x in found} == {c.conid for c in sim.world.by_symbol[symbol]}
    stocks = http.get(sim.base_url + "/trsrv/stocks", params={"symbols": ",".join(watchlist)}).json()
    assert set(stocks) == set(watchlist) and not shape_errors(stocks_rec["AAPL"], stocks["AAPL"])
    for symbol in watchlist:
        conids = [c["conid"] for entry in stocks[symbol] for c in entry["contracts"]]
        assert conids and all(isinstance(c, int) and c in sim.world.contracts for c in conids)
    by_name = http.post(sim.base_url + "/iserver/secdef/search", json={"symbol": "apple", "name": True}).json()
    assert [x["symbol"] for x in by_name] == ["AAPL"]
    assert http.get(sim.base_url + "/trsrv/stocks", params={"symbols": "NOPE"}).json() == {"NOPE": []}
