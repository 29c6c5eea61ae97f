"""Contract and market-data endpoints."""

from __future__ import annotations

import re
from typing import Any

from ibkr_pipelines.simulator import payloads
from ibkr_pipelines.simulator.api import Api, Reply, Request, error, int_param, route
from ibkr_pipelines.simulator.history_params import NO_DATA, HistoryError
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
    # Recording Contracts/GET-trsrv-stocks.json and the OpenAPI example: per symbol, one entry per company
    # name, each with its listings (conid as an int here, unlike secdef/search). guess: a symbol the
    # world does not know maps to [] (IBKR's answer for it is not recorded).
    out: dict[str, list[dict[str, Any]]] = {}
    for sym in (s.strip().upper() for s in req.query.get("symbols", "").split(",")):
        if not sym:
            continue
        by_name: dict[str, list[Any]] = {}
        for c in sorted(api.world.by_symbol.get(sym, []), key=lambda c: (not c.is_us, c.conid)):
            by_name.setdefault(c.name, []).append(c)
        out[sym] = [{"name": name, "chineseName": name.title(), "assetClass": "STK",
                     "contracts": [{"conid": c.conid, "exchange": c.listing_exchange, "isUS": c.is_us} for c in cs]}
                    for name, cs in by_name.items()]
    return Reply(200, out)


@route("GET,POST", r"/iserver/secdef/search")
def _secdef_search(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Recordings Contracts/GET-secdef-search.json and the conduit POST fixture: one entry per listing, conid as
    # a string, ``sections`` with STK first and the OPT months (MMMYY) and exchanges; POST takes a JSON body.
    params = dict(req.query)
    if isinstance(req.body, dict):
        params.update({k: str(v) for k, v in req.body.items()})
    sym = params.get("symbol", "").strip().upper()
    if not sym:
        return error(400, "Bad Request: symbol required")  # text unverified
    by_name = params.get("name", "").lower() == "true"
    if params.get("secType", "STK").upper() != "STK":
        # OpenAPI: secType STK (default), IND or BOND. guess: the world has no indices, and bond issuer
        # search (``issuers``/``bondid`` entries) is not modelled, so those answer [].
        return Reply(200, [])
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

def _history_reply(api: Api, req: Request, hmds: bool) -> Reply:
    try:
        return Reply(200, api.history.answer(req.query, api.today, hmds=hmds))
    except HistoryError as exc:
        if exc.message == NO_DATA:
            return Reply(exc.status, {"error": exc.message})  # reference §2.8: the body is {"error":"No data."}
        return error(exc.status, exc.message)


@route("GET", r"/iserver/marketdata/history")
def _history(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return _history_reply(api, req, hmds=False)


@route("GET", r"/hmds/history")
def _hmds_history(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Reference §6 and ibind marketdata_mixin: the first /hmds call answers 404 while the farm starts,
    # then data. guess: once per login, and from the same bars as /iserver/marketdata/history with
    # the same body (the reference gives no /hmds body); it needs the login, not the brokerage session.
    if api.session.start_hmds():
        return error(404, "Not Found")  # guess: the body text
    return _history_reply(api, req, hmds=True)


@route("POST,GET", r"/hmds/auth/init")
def _hmds_init(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Reference §2.8: call /hmds/auth/init first to avoid the first-call 404 (said of /hmds/scanner;
    # guess: it starts the farm for /hmds/history too). guess: the body.
    api.session.start_hmds()
    return Reply(200, {"authenticated": True})
