"""Account Management rules: JSON answers, RFC 9457 problem+json errors, and its own statuses.

Reference §3.1: errors are ``{"type","title","status","detail","invalidArguments":[...]}`` with statuses
400, 401, 402, 403, 404, 422 (business error), 500; 429 past the limits. §3.4: 208 on polling means a
``clientInstructionId`` was reused (the answer is still the instruction, to reconcile by
``instructionSetId``); a 404 problem means the id is unknown; business errors are 422, or 403 with
the error inside ``instructionResult``.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ibkr_pipelines.client.answers import UNPARSEABLE, parse_json
from ibkr_pipelines.client.verdicts import Answer, Verdict, fail, not_the_service, ok, retry, throttle
from ibkr_pipelines.errors import NotAuthenticated, ProblemAnswer

log = logging.getLogger(__name__)

URL_HINT = "Account Management URL (it should end in /gw/api/v1)"
PROBLEM_JSON = "application/problem+json"


def problem_line(body: Any, status: int) -> tuple[str, str, str]:
    """(one line, title, detail) of a problem+json body, or of a 403 ``instructionResult.error``."""
    if not isinstance(body, Mapping):
        return f"HTTP {status} with no problem details", "", ""
    title = str(body.get("title") or "").strip()
    detail = str(body.get("detail") or "").strip()
    result = body.get("instructionResult")
    error = result.get("error") if isinstance(result, Mapping) else None
    if isinstance(error, Mapping) and not detail:
        title = title or str(error.get("errorCode") or "").strip()
        detail = str(error.get("errorMessage") or "").strip()
    arguments = body.get("invalidArguments")
    fields = [
        f"{a.get('field')}: {a.get('description')}" for a in arguments or () if isinstance(a, Mapping) and a.get("field")
    ] if isinstance(arguments, list) else []
    parts = [p for p in (title, detail) if p]
    line = " - ".join(parts) or f"HTTP {status} with no problem details"
    if fields:
        line += f" ({'; '.join(fields)})"
    return " ".join(line.split()), title, detail


def classify(answer: Answer) -> Verdict:
    """What an Account Management answer means: the parsed JSON, a retry, or a one-line ``ProblemAnswer``."""
    status, endpoint = answer.status, answer.endpoint
    if status == 204:
        return ok(None, note=False)
    elsewhere = not_the_service(answer, expected="JSON", hint=URL_HINT)
    if elsewhere is not None:
        return elsewhere
    body = parse_json(answer.content)
    if status == 429:  # §3.1: 10 req/s per endpoint, 600 req/min per master account
        return throttle()
    if status >= 500:
        return retry(f"HTTP {status}")
    if status >= 400:
        line, title, detail = problem_line(body, status)
        if status == 401:
            return fail(NotAuthenticated(f"Account Management refused the credentials: {line}", endpoint=endpoint,
                                         status=401, text=detail or title))
        what = {404: "unknown to IBKR", 422: "a business error"}.get(status, "refused")
        return fail(ProblemAnswer(f"Account Management: {what}: {line}", endpoint=endpoint, status=status, title=title, detail=detail))
    if body is UNPARSEABLE:
        return retry("truncated or malformed JSON body")
    if status == 208:  # §3.4: a reused clientInstructionId; the body is the earlier instruction
        log.info("Account Management answered 208 on %s: clientInstructionId already used; reconcile by instructionSetId", endpoint)
    return ok(body)
