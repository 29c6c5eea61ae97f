"""Call-order rules: /portfolio/{acct}/... after a listing that named acct; /iserver/* after /iserver/accounts."""

from __future__ import annotations

from typing import Callable

import pytest
import requests

from ibkr_pipelines.simulator import Simulator

ACCOUNT_PATHS = ("/meta", "/summary", "/ledger", "/allocation", "/positions/0", "/position/1", "/positions/invalidate")


def _get(http: requests.Session, sim: Simulator, acct: str, tail: str) -> requests.Response:
    method = "POST" if tail.endswith("invalidate") else "GET"
    return http.request(method, f"{sim.base_url}/portfolio/{acct}{tail}")


def _unlisted(r: requests.Response) -> bool:
    """401 with an empty body: what IBKR answers for an account not listed (conduit EndpointTable.cs)."""
    return r.status_code == 401 and r.content == b""


def test_portfolio_calls_need_a_listing_that_named_the_account(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    for acct in ("F7000001", "U7000011", "U7000099"):
        for tail in ACCOUNT_PATHS:
            assert _unlisted(_get(http, sim, acct, tail)), (acct, tail)
    assert _unlisted(http.get(b + "/portfolio2/U7000011/positions"))
    assert _unlisted(http.get(b + "/portfolio/positions/1"))
    assert [a["id"] for a in http.get(b + "/portfolio/accounts").json()] == ["F7000001", "U7000099"]
    assert _get(http, sim, "F7000001", "/ledger").status_code == 200
    assert _get(http, sim, "U7000099", "/ledger").status_code == 200
    assert _unlisted(_get(http, sim, "U7000011", "/ledger"))  # a client: not in /portfolio/accounts
    r = http.post(b + "/portfolio/allocation", json={"acctIds": ["F7000001", "U7000011"]})
    assert _unlisted(r)
    assert http.get(b + "/portfolio/subaccounts").status_code == 200
    for tail in ACCOUNT_PATHS:
        assert _get(http, sim, "U7000011", tail).status_code == 200, tail
    assert http.get(b + "/portfolio2/U7000011/positions").status_code == 200
    assert http.post(b + "/portfolio/allocation", json={"acctIds": ["F7000001", "U7000011"]}).status_code == 200
    assert _unlisted(_get(http, sim, "U9999999", "/summary"))  # an unknown account is never listed
    assert http.get(b + "/no/such/endpoint").status_code == 404


def test_a_subaccounts2_page_lists_only_its_accounts(make_sim: Callable[..., Simulator],
                                                     http: requests.Session) -> None:
    sim = make_sim(extra_subaccounts=150)
    b = sim.base_url
    first100 = [a["id"] for a in http.get(b + "/portfolio/subaccounts").json()]
    assert len(first100) == 100 and first100[0] == "F7000001"
    beyond = sorted(a.id for a in sim.world.accounts if a.kind == "sub")[-1]
    assert beyond not in first100 and _unlisted(_get(http, sim, beyond, "/ledger"))
    page = http.get(b + "/portfolio/subaccounts2", params={"page": 7}).json()
    assert beyond in [a["id"] for a in page["subaccounts"]]
    assert _get(http, sim, beyond, "/ledger").status_code == 200
    other = sorted(a.id for a in sim.world.accounts if a.kind == "sub")[-30]  # on page 6
    assert other not in first100 and _unlisted(_get(http, sim, other, "/ledger"))


@pytest.mark.parametrize("path", ["/iserver/account/orders", "/iserver/marketdata/snapshot",
                                  "/iserver/account/trades", "/iserver/account/order/status/123"])
def test_iserver_calls_need_iserver_accounts_first(sim: Simulator, http: requests.Session, path: str) -> None:
    r = http.get(sim.base_url + path, params={"conids": "1"})
    assert r.status_code == 500 and r.json() == {"error": "Please query /accounts first"}
    assert http.get(sim.base_url + "/iserver/accounts").status_code == 200
    assert http.get(sim.base_url + path, params={"conids": "1"}).status_code != 500


def test_live_orders_after_iserver_accounts(sim: Simulator, http: requests.Session) -> None:
    b = sim.base_url
    assert http.get(b + "/iserver/account/pnl/partitioned").status_code == 200  # not in the rule
    http.get(b + "/iserver/accounts")
    r = http.get(b + "/iserver/account/orders")
    assert r.status_code == 200 and r.json() == {"orders": [], "snapshot": False}  # no orders placed here
