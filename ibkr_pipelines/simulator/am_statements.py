"""Account Management statements (reference §3.3): ``GET /statements/available`` and ``POST /statements``.

Both answer from the pinned world and the simulated clock (its date and time of day, clock.py): which
statements exist follows the account's funding date and the midnight-ET readiness of am_periods.py; a
document shows figures from the world (am_figures.py) as a PDF or HTML page (am_document.py). Both
routes follow the statements row of the downtime table and the AM limits (am_guard.py).

Scopes: IBKR's reference pages ([rust-sdk] AccountManagementReportsApi.md, [am-ref-zh] "create
statements") say ``statements.read`` OR ``reports.read`` for the listing, and ``statements.read`` OR
``statements.write`` OR ``reports.write`` for a document; reference §3.1's table lists only the write
scopes for generating, the pages are followed.

Refusals (problem+json, reference §3.1; §3.3's POST page lists 400 with ``invalidArguments``, 401, 402,
403, 500). Guesses, each with its own ``detail``: a missing or malformed field is 400 with
``invalidArguments``; an account the login cannot see is 403; a period the account has no statement for
(before its funding date, older than "2 years plus year-to-date", or not ready yet) is 422, IBKR's
business-error status (§3.1). Unknown fields are ignored (guess).
"""

from __future__ import annotations

import base64
import datetime
import gzip
from typing import Any

from ibkr_pipelines.simulator.am_body import refusal, request_object
from ibkr_pipelines.simulator.am_document import MIME_TYPES, PDF, render
from ibkr_pipelines.simulator.am_downtime import REPORTS
from ibkr_pipelines.simulator.am_figures import Figures, figures, funding_date
from ibkr_pipelines.simulator.am_periods import (Period, PeriodError, availability, last_ready, parse_period,
                                                 window_start)
from ibkr_pipelines.simulator.am_routes import AmRequest, am_route
from ibkr_pipelines.simulator.api import Api, Reply
from ibkr_pipelines.simulator.clock import sim_instant

AVAILABLE_SCOPES = ("statements.read", "reports.read")  # [rust-sdk], [am-ref-zh]; reference §3.1
GENERATE_SCOPES = ("statements.read", "statements.write", "reports.write")  # [rust-sdk], [am-ref-zh]
LANGUAGES = ("en", "tw", "cn", "fr", "de", "es", "it", "ru", "ja", "pt")  # reference §3.3 StmtRequest
MULTI_ACCOUNT_FORMATS = ("consolidate", "concatenate", "customConsolidate")  # reference §3.3 StmtRequest
# guess: the placeholders of the reference's example say only "string"; the listing's example says "String".
DATA_TYPE = "byte[]"
ENCODING = "base64"  # reference §3.3: "value" is base64 bytes


def _visible(api: Api, account_id: object, field: str = "accountId") -> str:
    """The id of an account the login sees (its listing: closed and unknown accounts are not), else a refusal."""
    if not isinstance(account_id, str) or not account_id.strip():
        raise refusal("missing_account", 400, f"{field} is required", [(field, "is required")])
    account = api.world.account(account_id.strip())
    if account is None:
        raise refusal("account_not_visible", 403, f"account {account_id.strip()} is not accessible to this login")
    return account.id


def _funded(api: Api, account_id: str) -> datetime.date:
    """The account's funding date (a 422 for an account never funded: it has no statement)."""
    funded = funding_date(api.world, account_id)
    if funded is None:
        raise refusal("not_funded", 422, f"account {account_id} has not been funded: it has no statements yet")
    return funded


@am_route("GET", r"/statements/available", AVAILABLE_SCOPES, downtime=REPORTS)
def statements_available(req: AmRequest) -> Reply:
    """``GET /statements/available?accountId=``: daily range, months and years with a statement (reference §3.3)."""
    api = req.sim.api.pinned()
    account_id = _visible(api, req.query.get("accountId"))
    now = sim_instant(api.today, req.sim.clock.time_of_day)
    funded = funding_date(api.world, account_id)
    value: dict[str, Any] = ({"daily": {}, "monthly": [], "annual": []} if funded is None
                             else availability(funded, now).body())
    return Reply(200, {"data": {"dataType": "String", "value": value}})  # reference §3.3 example envelope


def _options(body: dict[str, Any]) -> tuple[Period, str, bool]:
    """The period, mime type and gzip flag of a StmtRequest, after every field's check (400 otherwise)."""
    invalid: list[tuple[str, str]] = []
    period: Period | None = None
    try:
        period = parse_period(body.get("startDate"), body.get("endDate"))
    except PeriodError as exc:
        invalid.append((exc.field, exc.description))
    mime = body.get("mimeType", PDF)
    if mime not in MIME_TYPES:
        invalid.append(("mimeType", f"must be one of {', '.join(MIME_TYPES)}"))
    compress = body.get("gzip", False)
    if not isinstance(compress, bool):
        invalid.append(("gzip", "must be true or false"))
    if body.get("language", "en") not in LANGUAGES:
        invalid.append(("language", f"must be one of {', '.join(LANGUAGES)}"))
    if "multiAccountFormat" in body and body["multiAccountFormat"] not in MULTI_ACCOUNT_FORMATS:
        invalid.append(("multiAccountFormat", f"must be one of {', '.join(MULTI_ACCOUNT_FORMATS)}"))
    if not isinstance(body.get("cryptoConsolIfAvailable", False), bool):
        invalid.append(("cryptoConsolIfAvailable", "must be true or false"))
    ids = body.get("accountIds")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        invalid.append(("accountIds", "must be a list of account ids"))
    if invalid or period is None:
        raise refusal("invalid_request", 400, "the statement request is invalid: " + "; ".join(
            f"{f} {d}" for f, d in invalid), invalid)
    return period, str(mime), bool(compress)


def _check_period(account_id: str, period: Period, funded: datetime.date, now: datetime.datetime) -> datetime.date:
    """The first day the account's statement covers, or a 422 when it has no statement for ``period`` at ``now``."""
    if period.end < funded or (period.kind in ("daily", "custom") and period.start < funded):
        raise refusal("before_funding", 422, f"no statement for {period.label}: account {account_id} was funded "
                      f"on {funded.strftime('%Y%m%d')} and has statements from that date only")
    start = max(period.start, funded)
    if start < window_start(now):
        raise refusal("outside_window", 422, f"no statement for {period.label}: statements cover 2 years plus "
                      f"year-to-date, from {window_start(now).strftime('%Y%m%d')}")
    ready = last_ready(now)
    if period.end > ready:
        raise refusal("not_ready", 422, f"the statement for {period.label} is not ready yet: a day's statement is "
                      f"ready after midnight ET; the newest ready day is {ready.strftime('%Y%m%d')}")
    return start


@am_route("POST", r"/statements", GENERATE_SCOPES, downtime=REPORTS)
def statements(req: AmRequest) -> Reply:
    """``POST /statements``, a StmtRequest (JSON or signed JWT): the document in base64, maybe gzipped (§3.3)."""
    body = request_object(req)
    period, mime, compress = _options(body)
    api = req.sim.api.pinned()
    ids = [_visible(api, body.get("accountId"))]
    ids += [i for i in dict.fromkeys(_visible(api, a, "accountIds") for a in body.get("accountIds") or [])
            if i not in ids]
    now = sim_instant(api.today, req.sim.clock.time_of_day)
    accounts: list[Figures] = []
    for account_id in ids:
        funded = _funded(api, account_id)
        start = _check_period(account_id, period, funded, now)
        accounts.append(figures(api.world, api.views, account_id, start, period.end, funded))
    document = render(mime, period, accounts, now)
    req.sim.am.count("documents")
    req.sim.am.count("document_bytes", len(document))
    if compress:  # reference §3.3: with gzip true, value holds gzip-compressed bytes
        document = gzip.compress(document, mtime=0)  # mtime 0: the same request gives the same bytes
    return Reply(200, {"data": {"dataType": DATA_TYPE, "encoding": ENCODING,
                                "value": base64.b64encode(document).decode("ascii"), "mimeType": mime,
                                "gzip": compress, "accept": mime}})  # guess: accept names the document's type
