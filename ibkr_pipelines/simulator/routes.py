"""The /v1/api endpoints: session-tier checks, call-order rules, and one handler per route.

Error texts marked "unverified" are our choice where IBKR's exact wording is not documented.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ibkr_pipelines.simulator import payloads
from ibkr_pipelines.simulator.clock import SimClock
from ibkr_pipelines.simulator.history import HistoryBuilder, HistoryError
from ibkr_pipelines.simulator.limits import SECDEF_MAX_CONIDS
from ibkr_pipelines.simulator.payloads import PAGE_SIZE, Views
from ibkr_pipelines.simulator.session import GatewaySession
from ibkr_pipelines.simulator.world import Account, World

USER_ID = 70000001
USER_NAME = "simuser7"
# Brokerage-tier endpoints that work without a brokerage session (they manage it).
_ISERVER_EXEMPT = frozenset({"/iserver/auth/status", "/iserver/auth/ssodh/init", "/iserver/reauthenticate"})


@dataclass
class Request:
    """A parsed /v1/api request: method, path relative to /v1/api, query and JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    arrival: float
    session_state: str | None = None  # from GatewaySession.touch when the caller already touched it


@dataclass
class Reply:
    """What to answer: status, JSON-able body (None for no content), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # pre-serialized JSON body (cached hot answers); wins over ``body``


def error(status: int, message: str) -> Reply:
    """IBKR's usual error body ``{"error": ..., "statusCode": ...}``."""
    return Reply(status, {"error": message, "statusCode": status})


class ApiError(Exception):
    """Raised inside handlers to answer an error reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


Handler = Callable[["Api", Request, "re.Match[str]"], Reply]
_ROUTES: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []


def route(methods: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler for methods (comma list) and a full-match path regex."""

    def deco(fn: Handler) -> Handler:
        _ROUTES.append((frozenset(methods.split(",")), re.compile(pattern), fn))
        return fn

    return deco


@dataclass(frozen=True)
class WorldState:
    """One world and the answers derived from it; replaced as a whole when the world is rebuilt."""

    world: World
    views: Views
    history: HistoryBuilder

    @classmethod
    def build(cls, seed: int, through: datetime.date) -> "WorldState":
        """The world of ``seed`` from its start through ``through``, with fresh views and history."""
        world = World(seed, through)
        return cls(world, Views(world), HistoryBuilder(world))


class Api:
    """Answers /v1/api requests from the world, the views, the session and the clock."""

    def __init__(self, state: WorldState, session: GatewaySession, clock: SimClock,
                 inject_position_without_conid: bool = False) -> None:
        self.state = state  # swapped by Simulator.set_today when the clock moves past the world
        self.session = session
        self.clock = clock
        self.inject_missing_conid = inject_position_without_conid
        self._today: datetime.date | None = None  # set on a pinned copy only

    @property
    def world(self) -> World:
        """The world answers come from."""
        return self.state.world

    @property
    def views(self) -> Views:
        """Valuations and derived bodies of that world."""
        return self.state.views

    @property
    def history(self) -> HistoryBuilder:
        """Market-data history of that world."""
        return self.state.history

    def pinned(self) -> "Api":
        """A copy bound to one date and one world, so a request never mixes two of either."""
        # The clock is read first: Simulator.set_today installs a rebuilt world before it moves the
        # clock forward, so the state read next always covers the date read here.
        today = self.clock.today
        state = self.state
        out = copy.copy(self)
        out._today, out.state = today, state
        return out

    def missing_conid_target(self) -> tuple[str, int] | None:
        """(account, conid) of the one row served without ``conid`` when that fault is on."""
        if not self.inject_missing_conid:
            return None
        for a in self.world.accounts:
            rows = self.views.valuation(a.id, self.today).rows
            if rows:
                return a.id, rows[len(rows) // 2]["conid"]
        return None

    def handle(self, req: Request) -> Reply:
        """Session and tier checks, then the matching route (404 when none)."""
        if self._today is None:
            return self.pinned().handle(req)
        state = req.session_state or self.session.touch(req.arrival)
        is_init = req.path == "/iserver/auth/ssodh/init"
        if state == "nologin" or (state == "expired" and not is_init):
            return error(401, "not authenticated")
        if req.path.startswith("/iserver/"):
            if self.session.in_reset(req.arrival):
                return error(503, "Service Unavailable")  # text unverified
            if req.path not in _ISERVER_EXEMPT and not self.session.brokerage:
                return error(400, "Bad Request: no bridge")
        for methods, pattern, fn in _ROUTES:
            m = pattern.fullmatch(req.path)
            if m and req.method in methods:
                try:
                    return fn(self, req, m)
                except ApiError as exc:
                    return exc.reply
        return error(404, f"Not Found: {req.method} {req.path}")

    # -- helpers --
    @property
    def today(self) -> datetime.date:
        """The simulated date answers reflect (the request's date on a pinned copy)."""
        return self._today if self._today is not None else self.clock.today

    def account_for(self, account_id: str) -> Account:
        """Apply the call-order rule, then validate the account id (400 when unknown)."""
        if not self.session.accounts_queried:
            # IBKR's exact text/status for this call-order violation is unverified.
            raise ApiError(error(500, "Please query /portfolio/accounts first"))
        acct = self.world.account(account_id)
        if acct is None:
            raise ApiError(error(400, f"Bad Request: accountId is not valid: {account_id}"))
        return acct


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ApiError(error(400, f"Bad Request: invalid {what}: {value}")) from None


# ----- session -----------------------------------------------------------------------------------

@route("GET,POST", r"/iserver/auth/status")
def _auth_status(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, payloads.auth_status(authenticated=api.session.brokerage))


@route("POST,GET", r"/iserver/auth/ssodh/init")
def _ssodh_init(api: Api, req: Request, m: re.Match[str]) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("publish", True) is not True:
        return error(500, "publish must be true")  # IBKR answers 500; text unverified
    api.session.ssodh_init(req.arrival)
    return Reply(200, payloads.auth_status(authenticated=True, with_fail=False))


@route("GET,POST", r"/tickle")
def _tickle(api: Api, req: Request, m: re.Match[str]) -> Reply:
    remaining_ms = int(max(0.0, api.session.idle_timeout - (time.monotonic() - api.session.last_request)) * 1000)
    return Reply(200, {
        "session": api.session.session_id, "ssoExpires": remaining_ms, "collission": False, "userId": USER_ID,
        "hmds": {"error": "no bridge"},
        "iserver": {"authStatus": payloads.auth_status(authenticated=api.session.brokerage, with_fail=False)},
    })


@route("POST,GET", r"/logout")
def _logout(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.logout()
    return Reply(200, {"status": True})


@route("GET", r"/sso/validate")
def _sso_validate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, payloads.sso_validate(USER_ID, USER_NAME, True, int(time.time() * 1000)))


@route("POST,GET", r"/iserver/reauthenticate")
def _reauthenticate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"message": "triggered"})  # deprecated at IBKR; no state change here


# ----- accounts ----------------------------------------------------------------------------------

@route("GET", r"/portfolio/accounts")
def _portfolio_accounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.mark_accounts_queried()
    return Reply(200, [payloads.account_object(a) for a in api.world.accounts])


def _fa_group(api: Api) -> list[Account]:
    return [a for a in api.world.accounts if a.kind in ("master", "sub")]


@route("GET", r"/portfolio/subaccounts")
def _subaccounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.mark_accounts_queried()
    return Reply(200, [payloads.account_object(a) for a in _fa_group(api)[:100]])


@route("GET", r"/portfolio/subaccounts2")
def _subaccounts2(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.mark_accounts_queried()
    page = _int(req.query.get("page", "0"), "page")
    group = _fa_group(api)
    chunk = group[page * 20:(page + 1) * 20] if page >= 0 else []
    return Reply(200, {"metadata": {"total": len(group), "pageSize": 20, "pageNum": page},
                       "subaccounts": [payloads.account_object(a) for a in chunk]})


@route("GET", r"/portfolio/(?P<acct>[^/]+)/meta")
def _meta(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, payloads.account_object(api.account_for(m["acct"])))


@route("GET", r"/iserver/accounts")
def _iserver_accounts(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.session.iserver_accounts_queried = True
    return Reply(200, payloads.iserver_accounts(api.world, api.session.session_id))


# ----- balances ----------------------------------------------------------------------------------

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


# ----- positions ---------------------------------------------------------------------------------

@route("GET", r"/portfolio/(?P<acct>[^/]+)/positions/(?P<page>\d+)")
def _positions(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    page = int(m["page"])
    cold = api.session.first_positions_read(acct.id)
    sort, direction = req.query.get("sort"), req.query.get("direction")
    key = ("positions", acct.id, api.today, page, sort, direction, cold, api.inject_missing_conid)
    cached = api.views.bytes_cache.get(key)
    if cached is not None:
        return Reply(200, raw=cached)
    rows = payloads.sort_rows(api.views.valuation(acct.id, api.today).rows, sort, direction)
    chunk = rows[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    out = [payloads.strip_secdef(r) for r in chunk] if cold else chunk
    miss = api.missing_conid_target()
    if miss is not None and miss[0] == acct.id:
        out = [({k: v for k, v in r.items() if k != "conid"} if r.get("conid") == miss[1] else r) for r in out]
    raw = json.dumps(out, separators=(",", ":")).encode()
    api.views.bytes_cache[key] = raw
    return Reply(200, raw=raw)


@route("POST", r"/portfolio/(?P<acct>[^/]+)/positions/invalidate")
def _invalidate(api: Api, req: Request, m: re.Match[str]) -> Reply:
    api.account_for(m["acct"])
    return Reply(200, {"message": "success"})


def _string_strike(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["strike"] = f"{row['strike']:g}"
    return out


@route("GET", r"/portfolio/(?P<acct>[^/]+)/position/(?P<conid>\d+)")
def _position(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    row = api.views.valuation(acct.id, api.today).by_conid.get(int(m["conid"]))
    return Reply(200, [_string_strike(row)] if row else [])


@route("GET", r"/portfolio/positions/(?P<conid>\d+)")
def _positions_by_conid(api: Api, req: Request, m: re.Match[str]) -> Reply:
    conid = int(m["conid"])
    out: dict[str, list[dict[str, Any]]] = {}
    for a in api.world.accounts:
        row = api.views.valuation(a.id, api.today).by_conid.get(conid)
        if row:
            out[a.id] = [_string_strike(row)]
    return Reply(200, out)


@route("GET", r"/portfolio2/(?P<acct>[^/]+)/positions")
def _portfolio2(api: Api, req: Request, m: re.Match[str]) -> Reply:
    acct = api.account_for(m["acct"])
    return Reply(200, api.views.portfolio2(acct.id, api.today))


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
        return error(400, "Bad Request: acctIds is required")
    for i in ids:
        if api.world.account(str(i)) is None:
            return error(400, f"Bad Request: accountId is not valid: {i}")
    return Reply(200, api.views.allocation([str(i) for i in ids], api.today))


# ----- contracts ---------------------------------------------------------------------------------

@route("GET,POST", r"/trsrv/secdef")
def _trsrv_secdef(api: Api, req: Request, m: re.Match[str]) -> Reply:
    raw: Any = req.body.get("conids") if isinstance(req.body, dict) else None
    if raw is None:
        raw = [x for x in req.query.get("conids", "").split(",") if x.strip()]
    if not isinstance(raw, list) or not raw:
        return error(400, "Bad Request: conids is required")  # text unverified
    if len(raw) > SECDEF_MAX_CONIDS:
        return error(400, f"Bad Request: too many conids, at most {SECDEF_MAX_CONIDS}")  # text unverified
    conids = [_int(x, "conid") for x in raw]
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


# ----- order-reply questions (session housekeeping; no orders are ever placed here) -------------

@route("POST", r"/iserver/questions/suppress")
def _suppress(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"status": "submitted"})


@route("POST", r"/iserver/questions/suppress/reset")
def _suppress_reset(api: Api, req: Request, m: re.Match[str]) -> Reply:
    return Reply(200, {"status": "submitted"})
