"""Positions endpoints: the paged positions, one position, one conid across accounts, portfolio2, invalidate.

Two session quirks apply (SimulatorConfig switches):

- the positions cache (``stale_position_cache``): "The positions endpoint is cached. Use POST
  /portfolio/{id}/positions/invalidate or /portfolio2/{id}/positions" (reference §6 "Stale
  positions"; ibind #8, #146). The first read of an account in a session fills the cache with that
  day's positions; later reads, on any date, answer from it until invalidated. /portfolio2 has "no
  cache" (reference §2.4) and always answers for the clock's date.
- sparse rows (``sparse_positions``): "cold" -- the first read of each positions page of an account
  in a session is sparse (reference §6 "Cold first read": IbkrConduit RPD-06; ibind #6) unless
  ``waitForSecDef=true`` ("Forcing to wait for all security definition to be received. If false,
  position may not have secDef portion", OpenAPI); "persistent" -- every read sparse whatever
  ``waitForSecDef`` says (a client must fill from /trsrv/secdef); "never".
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from ibkr_pipelines.simulator.api import Api, ApiError, Reply, Request, route
from ibkr_pipelines.simulator.position_rows import PAGE_SIZE, sort_rows, sparse_row
from ibkr_pipelines.simulator.roster import Account


def positions_date(api: Api, acct: Account) -> datetime.date:
    """The date an account's positions answer reflects: its session cache's, or the clock's when off."""
    if api.config.stale_position_cache:
        return api.session.positions_date(acct.id, api.today)
    return api.today


def _sparse(api: Api, acct: Account, page: int, query: dict[str, str]) -> bool:
    mode = api.config.sparse_positions
    if mode == "never":
        return False
    if mode == "persistent":
        return True
    first = api.session.first_page_read(acct.id, page)  # consumed even when waiting for secdefs
    return first and query.get("waitForSecDef", "").strip().lower() != "true"


@route("GET", r"/portfolio/(?P<acct>[^/]+)/positions/(?P<page>\d+)")
def _positions(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    page = int(m["page"])
    d = positions_date(api, acct)
    sparse = _sparse(api, acct, page, req.query)
    sort, direction = req.query.get("sort"), req.query.get("direction")
    model = req.query.get("model") or None  # guess: the ``model`` param keeps that model's rows only
    key = ("positions", acct.id, d, page, sort, direction, model, sparse, api.inject_missing_conid)
    cached = api.views.bytes_cache.get(key)
    if cached is not None:
        return Reply(200, raw=cached)
    rows = api.views.valuation(acct.id, d).listing
    if model is not None:
        rows = [r for r in rows if r["model"] == model]
    chunk = sort_rows(rows, sort, direction)[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    out = [sparse_row(r) for r in chunk] if sparse else chunk
    miss = api.missing_conid_target()
    if miss is not None and miss[0] == acct.id:
        out = [({k: v for k, v in r.items() if k != "conid"} if r.get("conid") == miss[1] else r) for r in out]
    raw = json.dumps(out, separators=(",", ":")).encode()
    api.views.bytes_cache[key] = raw
    return Reply(200, raw=raw)


@route("POST", r"/portfolio/(?P<acct>[^/]+)/positions/invalidate")
def _invalidate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    api.session.invalidate_positions(acct.id)
    return Reply(200, {"message": "success"})  # OpenAPI; recording Portfolio/POST-portfolio-invalidate.json


@route("GET", r"/portfolio/(?P<acct>[^/]+)/position/(?P<conid>\d+)")
def _position(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    rows = api.views.valuation(acct.id, positions_date(api, acct)).listing_by_conid.get(int(m["conid"]), [])
    return Reply(200, rows)  # enriched (recording Portfolio/GET-portfolio-position-by-conid.json)


@route("GET", r"/portfolio/positions/(?P<conid>\d+)")
def _positions_by_conid(api: Api, req: Request, m: re.Match[str]) -> Reply:
    # Guess: a /portfolio call like the others: only accounts a listing named, 401 when none was.
    listed = [a for a in api.world.accounts if api.session.is_listed(a.id)]
    if not listed:
        raise ApiError(Reply(401))
    conid = int(m["conid"])
    out: dict[str, list[dict[str, Any]]] = {}
    for a in listed:
        rows = api.views.valuation(a.id, positions_date(api, a)).listing_by_conid.get(conid)
        if rows:
            out[a.id] = rows
    return Reply(200, out)


@route("GET", r"/portfolio2/(?P<acct>[^/]+)/positions")
def _portfolio2(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])  # guess: the same call-order rule as /portfolio/{accountId}/...
    return Reply(200, api.views.portfolio2(acct.id, api.today))
