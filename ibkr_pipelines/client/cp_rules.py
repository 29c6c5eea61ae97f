"""Client Portal's rules for reading an answer: JSON bodies, errors in 200s, session tiers, call order.

Order matters and follows what IBKR does (reference §6): a redirect or web page is never data; 429
is the penalty box (§5.3); 401 is a lost session and ``no bridge`` a missing brokerage session on
/iserver (§6); "Please query /accounts first" is the call-order rule (§2.1); then the endpoint's
tolerated answers (history's "No data.", /hmds warming up); 5xx is transient, and on /iserver may be
the nightly reset (§6); any other 4xx, and a 200 carrying ``error``, is IBKR refusing (§6 "Generic
error with 200").
"""

from __future__ import annotations

import re

from ibkr_pipelines.client.answers import UNPARSEABLE, error_text, parse_json
from ibkr_pipelines.client.verdicts import (
    Answer,
    Verdict,
    fail,
    not_the_service,
    ok,
    prime,
    recover,
    retry,
    throttle,
)
from ibkr_pipelines.errors import ApiErrorBody, NoBridge, NotAuthenticated

# IBKR's call-order refusals ("Please query /accounts first"), at whatever status they come (§2.1, §6).
_CALL_ORDER = re.compile(r"query /(portfolio/)?accounts first", re.IGNORECASE)
URL_HINT = "IBKR_BASE_URL (it should end in /v1/api)"


def in_brokerage_tier(path: str) -> bool:
    """Whether ``path`` is served by the /iserver tier, which IBKR resets nightly (reference §1.1, §6)."""
    return path.startswith("/iserver/")


def classify(answer: Answer) -> Verdict:
    """What a Client Portal answer means (see the module docstring for the order)."""
    status, path, endpoint = answer.status, answer.path, answer.endpoint
    if status == 204:
        return ok(None, note=False)
    elsewhere = not_the_service(answer, expected="JSON", hint=URL_HINT)
    if elsewhere is not None:
        return elsewhere
    body = parse_json(answer.content)
    text = error_text(body)
    if status == 429:
        return throttle()
    if status == 401:
        said = f" ({text})" if text else ""
        return recover(NotAuthenticated(f"IBKR session is not authenticated{said}", endpoint=endpoint, status=401, text=text))
    if "no bridge" in text.lower() and in_brokerage_tier(path):
        return recover(NoBridge("IBKR brokerage session is missing (no bridge)", endpoint=endpoint, status=status))
    if _CALL_ORDER.search(text):
        return prime(text)
    tolerated = answer.row.tolerance(status, text)
    if tolerated is not None:
        if tolerated.then == "empty":
            return ok(None, note=False)
        return retry(tolerated.reason, counts_error=False)
    if status >= 500:
        return retry(f"HTTP {status}", reset_window=in_brokerage_tier(path))
    if status >= 400:
        return fail(ApiErrorBody(f"IBKR refused the request: {text or 'no error text'}", endpoint=endpoint, status=status, text=text))
    if body is UNPARSEABLE:
        return retry("truncated or malformed JSON body")
    if text:
        return fail(ApiErrorBody(f"IBKR answered 200 with an error: {text}", endpoint=endpoint, status=status, text=text))
    return ok(body)
