"""Account endpoints: the listings, meta, /iserver/accounts, summary, ledger, P&L and allocation.

Each listing remembers, for the call-order rule (Api.account_for), exactly the accounts it named.
"""

from __future__ import annotations

import re

from ibkr_pipelines.simulator import account_payloads as ap
from ibkr_pipelines.simulator.api import Api, Reply, Request, error, int_param, route


@route("GET", r"/portfolio/accounts")
def _portfolio_accounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    accounts = ap.portfolio_accounts(api.world)
    api.session.note_listed([a.id for a in accounts])
    # brokerageAccess true here (recording Portfolio/GET-portfolio-accounts.json), false in the others.
    return Reply(200, [ap.account_object(a, paper=api.paper, brokerage_access=True) for a in accounts])


@route("GET", r"/portfolio/subaccounts")
def _subaccounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    accounts = ap.subaccounts(api.world)
    api.session.note_listed([a.id for a in accounts])
    # brokerageAccess false on every entry ([FA-SAMPLE], recording Portfolio/GET-portfolio-subaccounts.json).
    return Reply(200, [ap.account_object(a, paper=api.paper) for a in accounts])


@route("GET", r"/portfolio/subaccounts2")
def _subaccounts2(api: Api, req: Request, m: re.Match[str]) -> Reply:
    page = int_param(req.query.get("page", "0"), "page")
    body = ap.subaccounts2_body(api.world, page, paper=api.paper)
    api.session.note_listed([a["id"] for a in body["subaccounts"]])
    return Reply(200, body)


@route("GET", r"/portfolio/(?P<acct>[^/]+)/meta")
def _meta(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # brokerageAccess false (recording Portfolio/GET-portfolio-meta.json).
    return Reply(200, ap.account_object(api.account_for(m["acct"]), paper=api.paper))


@route("GET", r"/iserver/accounts")
def _iserver_accounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.mark_iserver_accounts()
    return Reply(200, ap.iserver_accounts(api.world, api.session.session_id, paper=api.paper))


@route("GET", r"/portfolio/(?P<acct>[^/]+)/summary")
def _summary(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    return Reply(200, api.views.summary(acct.id, api.today))


@route("GET", r"/portfolio/(?P<acct>[^/]+)/ledger")
def _ledger(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    return Reply(200, api.views.valuation(acct.id, api.today).ledger)


@route("GET", r"/iserver/account/pnl/partitioned")
def _pnl(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, api.views.pnl_partitioned(api.today))


@route("GET", r"/portfolio/(?P<acct>[^/]+)/allocation")
def _allocation(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    return Reply(200, api.views.allocation([acct.id], api.today))


@route("POST,GET", r"/portfolio/allocation")
def _allocation_many(api: Api, req: Request, m: re.Match[str]) -> Reply:
    ids = req.body.get("acctIds") if isinstance(req.body, dict) else None
    if ids is None and "acctIds" in req.query:
        ids = [x for x in req.query["acctIds"].split(",") if x]
    if not ids or not isinstance(ids, list):
        return error(400, "Bad Request: acctIds is required")  # text unverified
    # Guess: each account follows the call-order rule of /portfolio/{accountId}/... (401 otherwise).
    accounts = [api.account_for(str(i)) for i in ids]
    return Reply(200, api.views.allocation([a.id for a in accounts], api.today))
