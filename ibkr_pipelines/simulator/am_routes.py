"""The Account Management API's endpoints in the simulator (reference §3, root ``/gw/api/v1``): one table.

An endpoint module declares its routes with ``am_route(method, pattern, scope, downtime=...)``; the server
checks the OAuth 2.0 access token and the scope (``OAuth2Gate.authorize``; a tuple of scopes means any
one of them, as IBKR's pages write "`statements.read` OR `reports.read`"), then the AM rate limits and
the route's scheduled downtime (am_guard.py, am_downtime.py), then calls the handler with an
``AmRequest``. Modules are imported by ``am_endpoints`` so the table is full before the first request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ibkr_pipelines.simulator.am_downtime import Downtime
from ibkr_pipelines.simulator.api import Reply

if TYPE_CHECKING:
    from ibkr_pipelines.simulator.server import Simulator


@dataclass(frozen=True)
class AmRequest:
    """One Account Management request past the bearer check: what a handler needs."""

    sim: "Simulator"
    method: str
    path: str  # relative to /gw/api/v1
    match: re.Match[str]
    query: dict[str, str]
    content_type: str | None
    body: bytes
    client_id: str  # the OAuth 2.0 client the access token was issued to
    now: float  # wall-clock seconds (the gates' clock)


Handler = Callable[[AmRequest], Reply]


@dataclass(frozen=True)
class AmRoute:
    """A method, a path pattern (relative to /gw/api/v1, matched in full), the scope(s) it takes, the handler,
    and the scheduled downtime it follows (reference §3.1), if any."""

    method: str
    pattern: re.Pattern[str]
    scope: str | tuple[str, ...] | None
    handler: Handler
    downtime: Downtime | None = None


AM_ROUTES: list[AmRoute] = []


def am_route(method: str, pattern: str, scope: str | tuple[str, ...] | None, *,
             downtime: Downtime | None = None) -> Callable[[Handler], Handler]:
    """Declare ``handler`` as the answer to ``method pattern`` for tokens holding ``scope`` (or one of a tuple),
    down in ``downtime``'s windows (reference §3.1)."""

    def register(handler: Handler) -> Handler:
        AM_ROUTES.append(AmRoute(method.upper(), re.compile(pattern), scope, handler, downtime))
        return handler

    return register


def find_am_route(method: str, path: str) -> tuple[AmRoute, re.Match[str]] | None:
    """The route answering ``method path`` and its match, or None."""
    for route in AM_ROUTES:
        found = route.pattern.fullmatch(path)
        if found is not None and route.method == method.upper():
            return route, found
    return None
