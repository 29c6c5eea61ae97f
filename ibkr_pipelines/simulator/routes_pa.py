"""Portfolio Analyst: POST /pa/performance, /pa/allperiods and /pa/transactions (reference §2.7).

The read-only tier serves them (reference §1.1: "/portfolio, /pa, /trsrv"); each is paced 1 per
15 min (reference §2.7, §5.2; limits.py). Error texts are unverified: IBKR documents only that some
periods get HTTP 400 (reference §2.7). Guess: /pa calls need no account listing first (the
call-order rule names /portfolio/{accountId}/... only), but an id the login does not know is refused.
"""

from __future__ import annotations

import re
from typing import Any

from ibkr_pipelines.simulator import pa_payloads
from ibkr_pipelines.simulator.api import Api, ApiError, Reply, Request, error, int_param, route
from ibkr_pipelines.simulator.catalog import FX_START_USD
from ibkr_pipelines.simulator.performance import PERIODS

_DEFAULT_PERIOD = "12M"  # OpenAPI: period "default 12M"
_DEFAULT_DAYS = 90  # reference §2.7: "days defaults to 90"


def _body(req: Request) -> dict[str, Any]:
    return req.body if isinstance(req.body, dict) else {}


def _account_ids(api: Api, body: dict[str, Any]) -> list[str]:
    """The body's ``acctIds``, each known to the login, in order and without repeats."""
    ids = body.get("acctIds")
    if not isinstance(ids, list) or not ids:
        raise ApiError(error(400, "Bad Request: acctIds is required"))
    out: list[str] = []
    for raw in ids:
        aid = str(raw).strip()
        if api.world.account(aid) is None:
            raise ApiError(error(400, f"Bad Request: accountId is not valid: {aid}"))  # text as reference §6
        if aid not in out:
            out.append(aid)
    # No documented cap on acctIds (reference §2.7): any number is answered, a 150-client FA in one call.
    return out


@route("POST", r"/pa/performance")
def _performance(api: Api, req: Request, m: re.Match[str]) -> Reply:
    body = _body(req)
    ids = _account_ids(api, body)
    period = str(body.get("period") or _DEFAULT_PERIOD)
    if period not in PERIODS:
        return error(400, f"Bad Request: invalid period: {period}")  # reference §2.7: "last7days" got 400
    return Reply(200, pa_payloads.performance(api.views, ids, period, api.today))


@route("POST", r"/pa/allperiods")
def _allperiods(api: Api, req: Request, m: re.Match[str]) -> Reply:
    ids = _account_ids(api, _body(req))
    return Reply(200, pa_payloads.all_periods(api.views, ids, api.today))


@route("POST", r"/pa/transactions")
def _transactions(api: Api, req: Request, m: re.Match[str]) -> Reply:
    body = _body(req)
    ids = _account_ids(api, body)
    conids = body.get("conids")
    if not isinstance(conids, list) or len(conids) != 1:
        return error(400, "Bad Request: exactly one conid is required")  # reference §2.7: "Only one conid"
    conid = int_param(conids[0], "conid")
    days = int_param(body.get("days", _DEFAULT_DAYS), "days")
    if days < 1:
        return error(400, f"Bad Request: invalid days: {days}")
    # Guess: without a currency, the first account's base currency.
    currency = str(body.get("currency") or api.world.account_by_id[ids[0]].currency).upper()
    if currency not in FX_START_USD:
        return error(400, f"Bad Request: invalid currency: {currency}")
    return Reply(200, pa_payloads.transactions(api.world, ids, conid, currency, days, api.today,
                                               oldest_first=api.config.pa_transactions_oldest_first))
