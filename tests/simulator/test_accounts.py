"""The FA login's accounts: objects as the FA samples show them, listings, paging, paper ids, 150 clients."""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any, Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator
from ibkr_pipelines.simulator.roster import Roster
from ibkr_pipelines.simulator.world import World

from .conftest import TODAY, list_accounts

EMPTY_PARENT = {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False, "isMultiplex": False}


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows}


def test_account_objects_follow_the_fa_samples(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    accounts = http.get(b + "/portfolio/accounts").json()
    assert [a["id"] for a in accounts] == ["F7000001", "U7000099"]  # guess: master + linked individual
    assert all(a["brokerageAccess"] is True for a in accounts)
    subs = http.get(b + "/portfolio/subaccounts").json()
    assert [a["id"] for a in subs] == ["F7000001", "U7000011", "U7000012", "U7000013", "U7000014"]
    assert all(a["brokerageAccess"] is False for a in subs)
    assert all(a["parent"] == EMPTY_PARENT and a["desc"] == a["id"] and a["acctCustType"] == "INDIVIDUAL"
               for a in subs + accounts)
    master, client, individual = _by_id(subs)["F7000001"], _by_id(subs)["U7000012"], _by_id(accounts)["U7000099"]
    assert (master["type"], master["businessType"], master["faclient"], master["noClientTrading"]) == \
        ("FNF", "FA", False, False)
    assert (client["type"], client["businessType"], client["faclient"], client["noClientTrading"]) == \
        ("INDIVIDUAL", "FA_CLIENT", True, True)
    assert (individual["type"], individual["businessType"], individual["faclient"]) == \
        ("INDIVIDUAL", "INDEPENDENT", False)
    assert client["currency"] == "EUR" and client["trackVirtualFXPortfolio"] is False
    assert http.get(b + "/portfolio/U7000012/meta").json() == client  # meta: brokerageAccess false too


def test_subaccounts2_pages_twenty_at_a_time(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(extra_subaccounts=150)
    b = sim.base_url
    group = ["F7000001"] + sorted(a.id for a in sim.world.accounts if a.kind == "sub")
    assert len(group) == 155
    seen: list[str] = []
    for page in range(9):
        body = http.get(b + "/portfolio/subaccounts2", params={"page": page}).json()
        assert body["metadata"] == {"total": 155, "pageSize": 20, "pageNum": page}
        seen += [a["id"] for a in body["subaccounts"]]
        assert len(body["subaccounts"]) == (20 if page < 7 else 15 if page == 7 else 0)
    assert seen == group
    subs = http.get(b + "/portfolio/subaccounts").json()
    assert [a["id"] for a in subs] == group[:100]  # at most 100, master included (guess), stable order
    thin = _by_id(subs)["U7100001"]
    assert thin["businessType"] == "FA_CLIENT" and thin["faclient"] is True and thin["currency"] == "USD"


def test_paper_login_ids_and_flags(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(paper=True)
    b = sim.base_url
    accounts = http.get(b + "/portfolio/accounts").json()
    assert [a["id"] for a in accounts] == ["DF7000001", "DU7000099"]
    assert _by_id(accounts)["DU7000099"]["type"] == "DEMO"  # recording (paper) and [FA-SAMPLE]
    subs = [a["id"] for a in http.get(b + "/portfolio/subaccounts").json()]
    assert subs == ["DF7000001", "DU7000011", "DU7000012", "DU7000013", "DU7000014"]
    iserver = http.get(b + "/iserver/accounts").json()
    assert iserver["isPaper"] is True and iserver["accounts"][0] == "All"
    assert http.get(b + "/portfolio/DU7000011/ledger").json()["BASE"]["acctcode"] == "DU7000011"
    assert http.get(b + "/portfolio/U7000011/ledger").status_code == 401  # live ids are not this login's


def test_paper_is_the_same_world_with_other_ids() -> None:
    through = TODAY
    live, paper = World(7, through), World(7, through, Roster(paper=True))
    assert [a.id for a in paper.accounts] == ["D" + a.id for a in live.accounts]
    for a, p in zip(live.accounts, paper.accounts):
        assert live.positions_as_of(a.id, through) == paper.positions_as_of(p.id, through)
        assert live.cash_as_of(a.id, through) == paper.cash_as_of(p.id, through)
    strip = [(e.exec_id, e.conid, e.side, e.quantity, e.price, e.commission) for e in live.executions]
    assert strip == [(e.exec_id, e.conid, e.side, e.quantity, e.price, e.commission) for e in paper.executions]


def test_iserver_accounts_of_the_fa_login(sim: Simulator, http: requests.Session) -> None:
    body = http.get(sim.base_url + "/iserver/accounts").json()
    # [FA-SAMPLE] paper FA login: "All" first, the clients, no master; the individual is a guess.
    assert body["accounts"] == ["All", "U7000011", "U7000012", "U7000013", "U7000014", "U7000099"]
    assert body["acctProps"]["All"] == {"hasChildAccounts": False, "supportsCashQty": False, "supportsFractions": False}
    assert body["acctProps"]["U7000011"]["hasChildAccounts"] is False
    assert body["groups"] == ["All"] and body["allowFeatures"]["allowFA"] is True and body["isPaper"] is False
    assert body["selectedAccount"] == "U7000011" and set(body["aliases"]) == set(body["accounts"])


def test_a_150_client_fa_reconciles(make_sim: Callable[..., Simulator], http: requests.Session) -> None:
    sim = make_sim(extra_subaccounts=150)
    w = sim.world
    thin = [a for a in w.accounts if a.thin]
    assert len(thin) == 150 and len(w.accounts) == 156
    dividends = {ev.account for ev in w.cash_events if ev.kind == "dividend"}
    assert len(dividends & {a.id for a in thin}) > 140
    listed = list_accounts(http, sim)
    assert set(listed) == {a.id for a in w.accounts}
    for a in thin[::15]:  # ten of them over HTTP
        assert 3 <= len(w.positions_as_of(a.id, TODAY)) <= 6
        kinds = {ev.kind for ev in w.cash_events if ev.account == a.id}
        assert {"deposit", "trade", "commission", "interest", "advisor_fee"} <= kinds  # dividends: if its stocks pay
        http.get(f"{sim.base_url}/portfolio/{a.id}/positions/0")  # the cold read
        rows = http.get(f"{sim.base_url}/portfolio/{a.id}/positions/0").json()
        assert {r["conid"]: r["position"] for r in rows} == w.positions_as_of(a.id, TODAY)
        ledger = http.get(f"{sim.base_url}/portfolio/{a.id}/ledger").json()
        assert ledger["USD"]["cashbalance"] == w.cash_as_of(a.id, TODAY)["USD"]
        nav = sum(r["baseMktValue"] for r in rows) + ledger["BASE"]["cashbalance"]
        assert abs(nav - ledger["BASE"]["netliquidationvalue"]) <= 0.01


def test_thin_clients_trade_about_once_a_month() -> None:
    w = World(7, TODAY, Roster(extra_subaccounts=20))
    thin = {a.id for a in w.accounts if a.thin}
    months = defaultdict(set)
    for e in w.executions:
        if e.account in thin:
            months[e.account].add((e.trade_date.year, e.trade_date.month))
    n_months = len({(d.year, d.month) for d in w.days})
    for acct in thin:
        per_month = sum(1 for e in w.executions if e.account == acct) / n_months
        assert 0.4 < per_month < 1.6, acct
    # positions are the sum of executions and cash the sum of cash events, as for every account
    for acct in sorted(thin)[:5]:
        q: dict[int, float] = defaultdict(float)
        for e in w.executions_for(acct):
            q[e.conid] += e.signed_quantity
        assert w.positions_as_of(acct, TODAY) == {k: v for k, v in q.items() if v}
        cash = sum(ev.amount for ev in w.cash_events if ev.account == acct)
        assert abs(w.cash_as_of(acct, TODAY)["USD"] - cash) < 0.005
    # the master earns their advisor fees
    fees = [ev for ev in w.cash_events if ev.account == w.master.id and ev.kind == "advisor_fee"
            and ev.ref.endswith(sorted(thin)[0])]
    assert fees and all(ev.amount > 0 for ev in fees)


@pytest.mark.parametrize("extra", [0, 150])
def test_extra_clients_change_no_other_account(extra: int) -> None:
    base, bigger = World(7, datetime.date(2025, 6, 30)), World(7, datetime.date(2025, 6, 30), Roster(extra))
    others = {a.id for a in base.accounts} - {base.master.id}
    assert [e for e in bigger.executions if e.account in others] == base.executions
    assert [ev for ev in bigger.cash_events if ev.account in others] == \
        [ev for ev in base.cash_events if ev.account in others]
