"""The /v1/api core: request and reply types, the route table, and the session-tier and call-order checks.

The handlers themselves live in one module per endpoint family (routes_session, routes_accounts,
routes_positions, routes_market, routes_trades, routes_pa); ``routes`` imports them all. Error texts marked "unverified" are our
choice where IBKR's exact wording is not documented.
"""

from __future__ import annotations

import copy
import datetime
import gc
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ibkr_pipelines.simulator.clock import SimClock
from ibkr_pipelines.simulator.config import SimulatorConfig
from ibkr_pipelines.simulator.funding_program import Instruction
from ibkr_pipelines.simulator.history import HistoryBuilder
from ibkr_pipelines.simulator.lru import Lru
from ibkr_pipelines.simulator.payloads import ViewOptions, Views
from ibkr_pipelines.simulator.roster import Account, Roster
from ibkr_pipelines.simulator.session import GatewaySession
from ibkr_pipelines.simulator.world import World

USER_ID = 70000001
USER_NAME = "simuser7"
# Brokerage-tier endpoints that work without a brokerage session (they manage it).
_ISERVER_EXEMPT = frozenset({"/iserver/auth/status", "/iserver/auth/ssodh/init", "/iserver/reauthenticate"})
# /iserver calls that need /iserver/accounts first in this brokerage session, else 500
# {"error":"Please query /accounts first"}: snapshot and account/orders (reference §2.1, §6: ibauth;
# lumibot and other public code), order status, trades, and order changes ("before changing orders",
# reference §2.1).
_NEEDS_ISERVER_ACCOUNTS = re.compile(
    r"/iserver/marketdata/snapshot|/iserver/account/orders|/iserver/account/order/status/[^/]+"
    r"|/iserver/account/trades|/iserver/account/[^/]+/orders?(/.*)?")


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


def compete_flag(body: Any) -> bool:
    """Whether an ssodh/init body asks to compete (JSON true, or the text "true")."""
    value = body.get("compete") if isinstance(body, dict) else None
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


# Worlds this process built, by everything a world is made from. A world is a pure function of those and
# read-only once built (world.py), so simulators of one seed and date share it: a test process starts
# hundreds of simulators, and a build is ~0.4 s of CPU (~12 MB each; a few are kept).
_WORLDS = Lru(3)


@dataclass(frozen=True)
class WorldState:
    """One world and the answers derived from it; replaced as a whole when the world is rebuilt."""

    world: World
    views: Views
    history: HistoryBuilder

    @classmethod
    def build(cls, seed: int, through: datetime.date, roster: Roster | None = None,
              options: ViewOptions | None = None, funding: Sequence[Instruction] = ()) -> "WorldState":
        """The world of ``seed`` (plus ``funding``, instructions a test added) through ``through``, with fresh views."""
        world: World = _WORLDS.get((seed, through, roster or Roster(), tuple(funding)),  # type: ignore[assignment]
                                   lambda: World(seed, through, roster, funding))
        # The world is hundreds of thousands of long-lived objects: a full cyclic collection walking
        # them stalled an answer by 55-90 ms (measured with gc.callbacks), which a client's jitter
        # meter rightly reads as delay on the way. Freezing them keeps them out of the collector's
        # sweeps; objects made later are collected as usual, and reference counting still frees any.
        gc.freeze()
        return cls(world, Views(world, options), HistoryBuilder(world))


class Api:
    """Answers /v1/api requests from the world, the views, the session and the clock."""

    def __init__(self, state: WorldState, session: GatewaySession, clock: SimClock,
                 config: SimulatorConfig | None = None) -> None:
        self.state = state  # swapped by Simulator.set_today when the clock moves past the world
        self.session = session
        self.clock = clock
        self.config = config or SimulatorConfig()
        self.inject_missing_conid = self.config.inject_position_without_conid
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

    @property
    def paper(self) -> bool:
        """Whether this is a paper login (DF…/DU… ids, isPaper true)."""
        return self.world.roster.paper

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
        if state == "nologin":
            # Reference §6: no login -> 401 on every endpoint, /tickle and auth/status included.
            return error(401, "not authenticated")  # body text unverified
        if req.path.startswith("/iserver/"):
            tier = self._iserver_tier(req)
            if tier is not None:
                return tier
        for methods, pattern, fn in _ROUTES:
            m = pattern.fullmatch(req.path)
            if m and req.method in methods:
                try:
                    return fn(self, req, m)
                except ApiError as exc:
                    return exc.reply
        return error(404, f"Not Found: {req.method} {req.path}")

    def _iserver_tier(self, req: Request) -> Reply | None:
        """The answer of an /iserver call the brokerage tier refuses, or None to route it."""
        s = self.session
        if s.in_reset(req.arrival):
            return error(503, "Service Unavailable")  # nightly reset (campus-copy); text unverified
        if req.path in _ISERVER_EXEMPT:
            return None
        if s.competing:
            if req.path == "/iserver/accounts":
                return Reply(200, {})  # ibeam #40: competing:true, and /iserver/accounts answered {}
            return error(400, "Bad Request: no bridge")  # guess: the rest as without a session
        if not s.brokerage:
            return error(400, "Bad Request: no bridge")  # reference §6
        if _NEEDS_ISERVER_ACCOUNTS.fullmatch(req.path) and not s.iserver_accounts_queried:
            # Reference §6 (ibauth), lumibot: HTTP 500 with this body, no statusCode.
            return Reply(500, {"error": "Please query /accounts first"})
        return None

    # -- helpers --
    @property
    def today(self) -> datetime.date:
        """The simulated date answers reflect (the request's date on a pinned copy)."""
        return self._today if self._today is not None else self.clock.today

    def account_for(self, account_id: str) -> Account:
        """The account of a /portfolio/{accountId}/... call, if a listing named it in this session."""
        # /portfolio/{accountId}/... needs, in this session, a listing that contains the account
        # (reference §2.1; IBKR: subaccounts "must be called prior to calling other /portfolio
        # endpoints for those sub-accounts"). Otherwise, and for an id the login does not know, IBKR
        # answers 401 with an empty body: conduit tools/ApiCapture/EndpointTable.cs ("IBKR returns 401
        # for unknown accounts"), areed1192/interactive-broker-python-api #16. No instance of a "Please
        # query /portfolio/accounts first" text was found.
        acct = self.world.account(account_id)
        if acct is None or not self.session.is_listed(acct.id):
            raise ApiError(Reply(401))
        return acct


def int_param(value: Any, what: str) -> int:
    """An integer request parameter, or a 400 naming it."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ApiError(error(400, f"Bad Request: invalid {what}: {value}")) from None
