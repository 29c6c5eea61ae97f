"""Contract and market-data endpoints."""

from __future__ import annotations

import re
from typing import Any

from ibkr_pipelines.simulator import payloads
from ibkr_pipelines.simulator.api import Api, Reply, Request, error, int_param, route
from ibkr_pipelines.simulator.history import HistoryError
from ibkr_pipelines.simulator.limits import SECDEF_MAX_CONIDS


@route("GET,POST", r"/trsrv/secdef")
def _trsrv_secdef(api: Api, req: Request, m: re.Match[str]) -> Reply:
    raw: Any = req.body.get("conids") if isinstance(req.body, dict) else None
    if raw is None:
        raw = [x for x in req.query.get("conids", "").split(",") if x.strip()]
    if not isinstance(raw, list) or not raw:
        return error(400, "Bad Request: conids is required")  # text unverified
    if len(raw) > SECDEF_MAX_CONIDS:
        return error(400, f"Bad Request: too many conids, at most {SECDEF_MAX_CONIDS}")  # text unverified
    conids = [int_param(x, "conid") for x in raw]
    items = [payloads.secdef_item(api.world.contracts[c], c in api.views.optionable)
             for c in conids if c in api.world.contracts]
    if not items:
        return Reply(204)
    return Reply(200, {"secdef": items})


@route("GET", r"/iserver/contract/(?P<conid>\d+)/info")
def _contract_info(api: Api, req: Request, m: re.Match[str]) -> Reply:
    c = api.world.contracts.get(int(m["conid"]))
    if c is None:
        return error(400, f"Bad Request: conid is not valid: {m['conid']}")  # text unverified
    return Reply(200, payloads.contract_info(c, c.conid in api.views.optionable))


@route("GET", r"/trsrv/stocks")
def _trsrv_stocks(api: Api, req: Request, m: re.Match[str]) -> Reply:
    out: dict[str, list[dict[str, Any]]] = {}
    for sym in (s.strip().upper() for s in req.query.get("symbols", "").split(",")):
        if not sym:
            continue
        out[sym] = [{"name": c.name, "chineseName": c.name.title(), "assetClass": "STK",
                     "contracts": [{"conid": c.conid, "exchange": c.listing_exchange, "isUS": c.is_us}]}
                    for c in api.world.by_symbol.get(sym, [])]
    return Reply(200, out)


@route("GET,POST", r"/iserver/secdef/search")
def _secdef_search(api: Api, req: Request, m: re.Match[str]) -> Reply:
    params = dict(req.query)
    if isinstance(req.body, dict):
        params.update({k: str(v) for k, v in req.body.items()})
    sym = params.get("symbol", "").strip().upper()
    if not sym:
        return error(400, "Bad Request: symbol required")  # text unverified
    by_name = params.get("name", "").lower() == "true"
    hits = [c for c in api.world.contracts.values() if c.asset_class == "STK"
            and (c.symbol == sym or (by_name and sym in c.name.upper()))]
    out = []
    for c in sorted(hits, key=lambda c: c.conid):
        sections: list[dict[str, str]] = [{"secType": "STK"}]
        opts = sorted({o.expiry for o in api.world.contracts.values()
                       if o.asset_class == "OPT" and o.und_conid == c.conid and o.expiry})
        if opts:
            sections.append({"secType": "OPT", "months": ";".join(f"{o:%b%y}".upper() for o in opts),
                             "exchange": "SMART;AMEX;CBOE"})
        out.append({"conid": str(c.conid), "companyHeader": f"{c.name} - {c.listing_exchange}",
                    "companyName": c.name, "symbol": c.symbol, "description": c.listing_exchange,
                    "restricted": None, "sections": sections})
    return Reply(200, out)


# ----- market data -------------------------------------------------------------------------------

@route("GET", r"/iserver/marketdata/history")
def _history(api: Api, req: Request, m: re.Match[str]) -> Reply:
    try:
        return Reply(200, api.history.answer(req.query, api.today))
    except HistoryError as exc:
        if exc.message == "No data.":
            return Reply(exc.status, {"error": exc.message})
        return error(exc.status, exc.message)

