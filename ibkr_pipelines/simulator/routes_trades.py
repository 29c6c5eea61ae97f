"""Trades and live orders: GET /iserver/account/trades and GET /iserver/account/orders (reference §2.6).

Both need the brokerage session and /iserver/accounts first (api.py); both are paced 1 per 5 s
(limits.py). Session quirks, kept per brokerage session (session.py):

- trades: the first read of a brokerage session answers ``[]``, an immediate repeat is full
  (reference §6 "Cold first read"; recording Orders/GET-trades-empty.json);
- orders: the first call is the pre-flight and answers ``{"orders":[],"snapshot":false}`` (reference
  §2.6 "Needs a pre-flight call"; recording Orders/GET-live-orders-empty.json); ``force=true`` "clears
  the cache and returns an empty list for that call" (reference §2.6).
"""

from __future__ import annotations

import re

from ibkr_pipelines.simulator import trade_payloads
from ibkr_pipelines.simulator.api import USER_NAME, Api, ApiError, Reply, Request, error, int_param, route
from ibkr_pipelines.simulator.orders import ORDERS_MAX, TRADES_MAX_DAYS, session_orders, trades_window

# Reference §2.6: the ``filters`` names and the statuses they select; ``sort_by_time`` sorts, not filters.
_FILTERS = {"inactive": "Inactive", "pending_submit": "PendingSubmit", "pre_submitted": "PreSubmitted",
            "submitted": "Submitted", "filled": "Filled", "pending_cancel": "PendingCancel",
            "cancelled": "Cancelled", "warn_state": "WarnState"}


def _accounts(api: Api, req: Request) -> list[str]:
    """The accounts a call asks about: its ``accountId``, or every account of the login."""
    wanted = req.query.get("accountId", "").strip()
    if not wanted or wanted == "All":
        # Guess: without accountId (or with the FA pseudo-account "All", [FA-SAMPLE]) every account of
        # the login; the real endpoint may answer for the selected account only.
        return [a.id for a in api.world.accounts]
    if api.world.account(wanted) is None:
        raise ApiError(error(400, f"Bad Request: accountId is not valid: {wanted}"))  # reference §6, ibind #122
    return [wanted]


@route("GET", r"/iserver/account/trades")
def _trades(api: Api, req: Request, m: re.Match[str]) -> Reply:
    accounts = _accounts(api, req)
    days = 1  # reference §2.6: "Without it, only today's executions come back"
    if req.query.get("days", "").strip():
        # Guess: more than 7 is served as 7 (reference §2.6 only says "at most 7"), less than 1 as 1.
        days = min(max(int_param(req.query["days"], "days"), 1), TRADES_MAX_DAYS)
    if api.session.first_trades_read():
        return Reply(200, [])
    execs = trades_window(api.world, accounts, api.today, days)
    # Guess: newest first (IBKR does not document the order).
    execs.sort(key=lambda e: (e.trade_time, e.exec_id), reverse=True)
    return Reply(200, [trade_payloads.trade_row(api.world, e, USER_NAME) for e in execs])


@route("GET", r"/iserver/account/orders")
def _live_orders(api: Api, req: Request, m: re.Match[str]) -> Reply:
    accounts = _accounts(api, req)  # guess: an unknown accountId is refused as on /trades
    force = req.query.get("force", "").strip().lower() == "true"
    # Recording Orders/GET-live-orders.json: "snapshot" false on a full answer too (OpenAPI: "If live
    # order update is a snapshot"); guess: always false.
    if api.session.orders_preflight(force):
        return Reply(200, {"orders": [], "snapshot": False})
    names = [f.strip().lower() for f in req.query.get("filters", "").split(",") if f.strip()]
    # Guess: unknown names are ignored, and sort_by_time keeps the default order (newest first).
    statuses = {_FILTERS[n] for n in names if n in _FILTERS}
    orders = session_orders(api.world, accounts, api.today, api.config.open_orders_per_account)
    if statuses:
        orders = [o for o in orders if o.status in statuses]
    # Reference §2.6: at most 1000 orders. Guess: the newest are kept (by last change, then id).
    orders.sort(key=lambda o: (o.last_time, o.order_id), reverse=True)
    body = [trade_payloads.order_row(api.world, o) for o in orders[:ORDERS_MAX]]
    return Reply(200, {"orders": body, "snapshot": False})
