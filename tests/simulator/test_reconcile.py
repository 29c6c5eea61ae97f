"""Numbers reconcile across endpoints exactly as IBKR's do, read over HTTP for every account."""

from __future__ import annotations

import datetime
from typing import Any

import requests

from ibkr_pipelines.simulator import Simulator

from .conftest import TODAY, open_brokerage


def _all_positions(http: requests.Session, sim: Simulator, acct: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 0
    while True:
        # the cold first read of each page is sparse unless the client waits for the secdefs
        r = http.get(f"{sim.base_url}/portfolio/{acct}/positions/{page}", params={"waitForSecDef": "true"})
        assert r.status_code == 200
        chunk = r.json()
        rows += chunk
        if len(chunk) < 100:
            return rows
        page += 1


def test_positions_cash_ledger_summary_reconcile(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    for acct in sim.world.accounts:
        rows = _all_positions(http, sim, acct.id)
        assert {r["conid"]: r["position"] for r in rows} == sim.world.positions_as_of(acct.id, TODAY)
        ledger = http.get(f"{sim.base_url}/portfolio/{acct.id}/ledger").json()
        base = ledger["BASE"]
        assert base["currency"] == "BASE" and base["exchangerate"] == 1
        pos_part = sum(r["baseUnrealizedPnl"] if r["assetClass"] == "FUT" else r["baseMktValue"] for r in rows)
        cash_part = sum(e["cashbalance"] * e["exchangerate"] for k, e in ledger.items() if k != "BASE")
        assert abs(pos_part + cash_part - base["netliquidationvalue"]) <= 0.01, acct.id
        for ccy, cash in sim.world.cash_as_of(acct.id, TODAY).items():
            assert ledger[ccy]["cashbalance"] == cash
        for ccy, e in ledger.items():
            if ccy == "BASE":
                continue
            mine = [r for r in rows if r["currency"] == ccy]
            nlv = e["cashbalance"] + sum(r["unrealizedPnl"] if r["assetClass"] == "FUT" else r["mktValue"]
                                         for r in mine)
            assert abs(nlv - e["netliquidationvalue"]) <= 0.01
            assert e["exchangerate"] == sim.world.fx_rate(ccy, acct.currency, TODAY)
        for r in rows:
            c = sim.world.contracts[r["conid"]]
            assert r["mktValue"] == round(r["position"] * r["mktPrice"] * c.value_multiplier, 2)
            assert abs(r["unrealizedPnl"] - (r["mktValue"] - r["position"] * r["avgCost"])) <= 0.01 + 1e-6 * abs(
                r["mktValue"])
            assert r["pageSize"] == 100 and "name" in r
        summary = http.get(f"{sim.base_url}/portfolio/{acct.id}/summary").json()
        assert summary["netliquidation"]["amount"] == base["netliquidationvalue"]
        assert summary["totalcashvalue"]["amount"] == base["cashbalance"]
        assert summary["accountcode"]["value"] == acct.id
        assert len(summary) >= 20


def test_paging_sorting_and_empty_page(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    big = max(sim.world.accounts, key=lambda a: len(sim.world.positions_as_of(a.id, TODAY)))
    p0 = http.get(f"{sim.base_url}/portfolio/{big.id}/positions/0").json()
    p0 = http.get(f"{sim.base_url}/portfolio/{big.id}/positions/0").json()
    p1 = http.get(f"{sim.base_url}/portfolio/{big.id}/positions/1").json()  # each page's first read is cold
    p1 = http.get(f"{sim.base_url}/portfolio/{big.id}/positions/1").json()
    assert len(p0) == 100 and 0 < len(p1) < 100
    names = [r["name"] for r in p0 + p1]
    assert names == sorted(names)
    assert http.get(f"{sim.base_url}/portfolio/{big.id}/positions/7").json() == []
    by_value = http.get(f"{sim.base_url}/portfolio/{big.id}/positions/0",
                        params={"sort": "mktValue", "direction": "d"}).json()
    assert [r["mktValue"] for r in by_value] == sorted((r["mktValue"] for r in by_value), reverse=True)


def test_other_position_views_agree(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    acct = "U7000011"
    rows = http.get(f"{sim.base_url}/portfolio/{acct}/positions/0").json()
    rows = http.get(f"{sim.base_url}/portfolio/{acct}/positions/0").json()
    row = rows[0]
    one = http.get(f"{sim.base_url}/portfolio/{acct}/position/{row['conid']}").json()
    assert len(one) == 1 and one[0]["mktValue"] == row["mktValue"] and isinstance(one[0]["strike"], str)
    many = http.get(f"{sim.base_url}/portfolio/positions/{row['conid']}").json()
    assert many[acct][0]["position"] == row["position"]
    p2 = http.get(f"{sim.base_url}/portfolio2/{acct}/positions").json()
    assert {r["conid"] for r in p2} == {str(c) for c in sim.world.positions_as_of(acct, TODAY)}
    alloc = http.get(f"{sim.base_url}/portfolio/{acct}/allocation").json()
    ledger = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()
    cash = ledger["BASE"]["cashbalance"]
    assert alloc["assetClass"]["long" if cash >= 0 else "short"]["CASH"] == round(cash, 2)
    cons = http.post(f"{sim.base_url}/portfolio/allocation", json={"acctIds": [acct]}).json()
    assert cons == alloc
    assert http.post(f"{sim.base_url}/portfolio/{acct}/positions/invalidate").json() == {"message": "success"}


def test_clock_moves_answers(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    acct = "U7000011"
    before = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()["BASE"]
    later = TODAY + datetime.timedelta(days=7)
    sim.set_today(later)
    after = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()["BASE"]
    assert after["timestamp"] > before["timestamp"]
    assert after["netliquidationvalue"] != before["netliquidationvalue"]
    p2 = http.get(f"{sim.base_url}/portfolio2/{acct}/positions").json()
    assert {int(r["conid"]): r["position"] for r in p2} == sim.world.positions_as_of(acct, later)


def test_contract_endpoints(sim: Simulator, http: requests.Session) -> None:
    open_brokerage(http, sim)
    w = sim.world
    conids = list(w.contracts)[:5]
    r = http.get(f"{sim.base_url}/trsrv/secdef", params={"conids": ",".join(map(str, conids))})
    items = r.json()["secdef"]
    assert [i["conid"] for i in items] == conids and all(isinstance(i["strike"], str) for i in items)
    r = http.post(f"{sim.base_url}/trsrv/secdef", json={"conids": conids[:2]})
    assert len(r.json()["secdef"]) == 2
    assert http.post(f"{sim.base_url}/trsrv/secdef", json={"conids": [1, 2]}).status_code == 204
    r = http.post(f"{sim.base_url}/trsrv/secdef", json={"conids": list(range(201))})
    assert r.status_code == 400 and "error" in r.json()
    opt = next(c for c in w.contracts.values() if c.asset_class == "OPT")
    info = http.get(f"{sim.base_url}/iserver/contract/{opt.conid}/info").json()
    assert info["con_id"] == opt.conid and info["multiplier"] == "100" and info["right"] in ("CALL", "PUT")
    stocks = http.get(f"{sim.base_url}/trsrv/stocks", params={"symbols": "AAPL,NOPE"}).json()
    assert stocks["AAPL"][0]["contracts"][0]["conid"] == w.by_symbol["AAPL"][0].conid and stocks["NOPE"] == []
    found = http.get(f"{sim.base_url}/iserver/secdef/search", params={"symbol": "AAPL"}).json()
    assert found[0]["conid"] == str(w.by_symbol["AAPL"][0].conid)
    assert any(s["secType"] == "OPT" for s in found[0]["sections"])
    accts = http.get(f"{sim.base_url}/iserver/accounts").json()
    assert accts["allowFeatures"]["allowFA"] is True and accts["accounts"][0] == "All"
    subs2 = http.get(f"{sim.base_url}/portfolio/subaccounts2", params={"page": 0}).json()
    assert subs2["metadata"] == {"total": len(subs2["subaccounts"]), "pageSize": 20, "pageNum": 0}
