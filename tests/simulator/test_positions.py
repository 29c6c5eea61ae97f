"""Positions quirks: sparse rows (cold, persistent, never), the stale per-session cache, virtual FX rows
and model-portfolio splits; the world's promises hold whatever the switches."""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any, Callable

import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.payloads import SECDEF_FIELDS, SPARSE_FIELDS
from ibkr_pipelines.simulator.roster import MODEL_NAME

from .conftest import TODAY, list_accounts

LATER = TODAY + datetime.timedelta(days=7)


def _page(http: requests.Session, sim: Simulator, acct: str, page: int = 0, **params: Any) -> list[dict[str, Any]]:
    r = http.get(f"{sim.base_url}/portfolio/{acct}/positions/{page}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _is_sparse(rows: list[dict[str, Any]]) -> bool:
    """Every row has exactly the recorded 21 fields, in the recorded order."""
    return bool(rows) and all(list(r) == list(SPARSE_FIELDS) for r in rows)


def _all_rows(http: requests.Session, sim: Simulator, acct: str) -> list[dict[str, Any]]:
    rows, page = [], 0
    while True:
        chunk = _page(http, sim, acct, page, waitForSecDef="true")
        rows += chunk
        if len(chunk) < 100:
            return rows
        page += 1


def test_cold_first_read_of_each_page_is_sparse(sim: Simulator, http: requests.Session) -> None:
    list_accounts(http, sim)
    cold = _page(http, sim, "U7000011")
    assert _is_sparse(cold) and len(cold) == 100
    assert all(r["multiplier"] is None or r["assetClass"] != "STK" for r in cold)
    assert all(isinstance(r["strike"], float) for r in cold)
    warm = _page(http, sim, "U7000011")
    assert [r["conid"] for r in cold] == [r["conid"] for r in warm]
    assert all(set(SECDEF_FIELDS) <= set(r) and r["pageSize"] == 100 and isinstance(r["strike"], str) for r in warm)
    assert _is_sparse(_page(http, sim, "U7000011", 1))  # page 1's first read is cold too
    assert not _is_sparse(_page(http, sim, "U7000011", 1))
    # waitForSecDef=true: the first read of a page waits for the security definitions
    assert not _is_sparse(_page(http, sim, "U7000012", waitForSecDef="true"))
    assert not _is_sparse(_page(http, sim, "U7000012"))
    # a new login is a new session: cold again
    sim.expire_login()
    sim.login()
    list_accounts(http, sim)
    assert _is_sparse(_page(http, sim, "U7000011"))


def test_persistent_sparse_rows_ignore_wait_for_secdef(make_sim: Callable[..., Simulator],
                                                        http: requests.Session) -> None:
    sim = make_sim(sparse_positions="persistent")
    list_accounts(http, sim)
    for _ in range(3):
        assert _is_sparse(_page(http, sim, "U7000013", waitForSecDef="true"))
    conids = [r["conid"] for r in _page(http, sim, "U7000013")]
    secdef = http.get(sim.base_url + "/trsrv/secdef", params={"conids": ",".join(map(str, conids))}).json()
    assert {i["conid"] for i in secdef["secdef"]} == set(conids)  # the client fills the names from here


def test_never_sparse(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(sparse_positions="never")
    list_accounts(http, sim)
    assert all("name" in r for r in _page(http, sim, "U7000011"))


def test_positions_answer_from_the_session_cache_until_invalidated(sim: Simulator, http: requests.Session) -> None:
    list_accounts(http, sim)
    acct = "U7000011"
    before = _all_rows(http, sim, acct)
    conid = before[0]["conid"]
    one_before = http.get(f"{sim.base_url}/portfolio/{acct}/position/{conid}").json()
    ledger_before = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()["BASE"]
    sim.set_today(LATER)
    assert _all_rows(http, sim, acct) == before  # the old date's positions: the cache
    assert http.get(f"{sim.base_url}/portfolio/{acct}/position/{conid}").json() == one_before
    assert http.get(f"{sim.base_url}/portfolio/positions/{conid}").json()[acct] == one_before
    assert http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()["BASE"] != ledger_before  # not cached
    p2 = http.get(f"{sim.base_url}/portfolio2/{acct}/positions").json()  # "no cache" (reference §2.4)
    assert {int(r["conid"]): r["position"] for r in p2} == sim.world.positions_as_of(acct, LATER)
    r = http.post(f"{sim.base_url}/portfolio/{acct}/positions/invalidate")
    assert r.json() == {"message": "success"}
    after = _all_rows(http, sim, acct)
    assert {r["conid"]: r["position"] for r in after} == sim.world.positions_as_of(acct, LATER)
    assert after != before
    # the other accounts' caches are theirs: untouched by that invalidation
    other = "U7000014"
    first = _all_rows(http, sim, other)
    assert {r["conid"]: r["position"] for r in first} == sim.world.positions_as_of(other, LATER)


def test_positions_follow_the_clock_without_the_cache(make_sim: Callable[..., Simulator],
                                                      http: requests.Session) -> None:
    sim = make_sim(stale_position_cache=False)
    list_accounts(http, sim)
    _all_rows(http, sim, "U7000011")
    sim.set_today(LATER)
    rows = _all_rows(http, sim, "U7000011")
    assert {r["conid"]: r["position"] for r in rows} == sim.world.positions_as_of("U7000011", LATER)


def test_invalidate_makes_the_next_read_cold(sim: Simulator, http: requests.Session) -> None:
    list_accounts(http, sim)
    _page(http, sim, "U7000014")
    assert not _is_sparse(_page(http, sim, "U7000014"))
    http.post(f"{sim.base_url}/portfolio/U7000014/positions/invalidate")
    assert _is_sparse(_page(http, sim, "U7000014"))  # guess: a refilled cache starts cold


def _nav_check(http: requests.Session, sim: Simulator, acct: str, rows: list[dict[str, Any]]) -> None:
    """Non-CASH rows plus the ledger's cash equal the ledger NAV to the cent; positions as the world's."""
    ledger = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()
    held: dict[int, float] = defaultdict(float)
    for r in rows:
        if r["assetClass"] != "CASH":
            held[r["conid"]] += r["position"]
    assert dict(held) == sim.world.positions_as_of(acct, TODAY)
    pos = sum(r["baseUnrealizedPnl"] if r["assetClass"] == "FUT" else r["baseMktValue"]
              for r in rows if r["assetClass"] != "CASH")
    cash = sum(e["cashbalance"] * e["exchangerate"] for k, e in ledger.items() if k != "BASE")
    assert abs(pos + cash - ledger["BASE"]["netliquidationvalue"]) <= 0.01


def test_virtual_fx_rows(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(virtual_fx_positions=True)
    list_accounts(http, sim)
    acct = "U7000012"  # the EUR-based client
    meta = http.get(f"{sim.base_url}/portfolio/{acct}/meta").json()
    assert meta["trackVirtualFXPortfolio"] is True and meta["currency"] == "EUR"
    rows = _all_rows(http, sim, acct)
    cash_rows = [r for r in rows if r["assetClass"] == "CASH"]
    ledger = http.get(f"{sim.base_url}/portfolio/{acct}/ledger").json()
    expected = {c: v for c, v in sim.world.cash_as_of(acct, TODAY).items() if c != "EUR" and v}
    assert expected and {r["currency"]: r["position"] for r in cash_rows} == expected
    for r in cash_rows:
        assert r["mktValue"] == r["position"] == ledger[r["currency"]]["cashbalance"]
        fx = sim.world.fx_rate(r["currency"], "EUR", TODAY)
        assert r["baseMktValue"] == round(r["position"] * fx, 2)
        assert sim.world.contracts[r["conid"]].asset_class == "CASH"
    _nav_check(http, sim, acct, rows)
    assert not any(r["assetClass"] == "CASH" for r in _all_rows(http, sim, "U7000011"))  # only that account
    plain = make_sim()
    list_accounts(http, plain)
    assert http.get(f"{plain.base_url}/portfolio/{acct}/ledger").json() == ledger  # the ledger is unchanged


def test_model_portfolio_splits(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(model_portfolios=True)
    list_accounts(http, sim)
    acct = "U7000013"
    rows = _all_rows(http, sim, acct)
    by_conid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_conid[r["conid"]].append(r)
    split = {c: rs for c, rs in by_conid.items() if len(rs) > 1}
    assert split
    for rs in split.values():
        assert sorted(r["model"] for r in rs) == ["", MODEL_NAME]
        assert all(r["position"] != 0 for r in rs)
    _nav_check(http, sim, acct, rows)
    modelled = _page(http, sim, acct, model=MODEL_NAME)
    assert modelled and {r["model"] for r in modelled} == {MODEL_NAME} and {r["conid"] for r in modelled} == set(split)
    conid = next(iter(split))
    assert len(http.get(f"{sim.base_url}/portfolio/{acct}/position/{conid}").json()) == 2
    p2 = http.get(f"{sim.base_url}/portfolio2/{acct}/positions").json()
    assert sum(1 for r in p2 if r["model"] == MODEL_NAME) == len(split)
    summary = http.get(f"{sim.base_url}/portfolio/{acct}/summary").json()
    plain = make_sim()
    list_accounts(http, plain)
    assert http.get(f"{plain.base_url}/portfolio/{acct}/summary").json() == summary  # money unchanged
