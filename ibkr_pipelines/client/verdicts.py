"""What one answer means, as data: the service rules decide, the transport acts.

A service's ``classify`` turns an ``Answer`` (status, headers, bytes, the endpoint row) into a
``Verdict``: a body to return, a retry, a 429 penalty, a session to recover, a listing to make first,
or an error to raise. Keeping the decision pure keeps the transport about pacing and retries only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ibkr_pipelines.client.answers import is_web_page, page_title
from ibkr_pipelines.client.endpoints import Endpoint
from ibkr_pipelines.errors import IbkrError, NotJsonAnswer

OK, RETRY, THROTTLE, RECOVER, PRIME, FAIL = "ok", "retry", "throttle", "recover", "prime", "fail"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as the rules see it (never the request's headers or cookies)."""

    method: str
    path: str
    endpoint: str  # the counters' key, e.g. "GET /portfolio/{accountId}/ledger"
    row: Endpoint
    status: int
    headers: Mapping[str, str]
    content: bytes
    where: str  # the service's root URL, for messages


@dataclass(frozen=True)
class Verdict:
    """What the transport does with an answer; build one with the functions below."""

    kind: str
    body: Any = None
    reason: str = ""
    error: IbkrError | None = None
    reset_window: bool = False  # a retry that may wait out IBKR's nightly reset
    pause_floor: float = 0.0  # a retry that waits at least this long (IBKR asked us to slow down)
    counts_error: bool = True
    throttled: bool = False  # the service said "too many requests" in its own words (Flex 1018)
    note: bool = True  # an ``ok`` answer the session keeper should see (listings)


def ok(body: Any, *, note: bool = True) -> Verdict:
    """Return ``body`` to the caller (and to the response hooks, unless the endpoint is a session answer)."""
    return Verdict(OK, body=body, note=note)


def retry(
    reason: str, *, reset_window: bool = False, pause_floor: float = 0.0, counts_error: bool = True, throttled: bool = False
) -> Verdict:
    """Send again after a backoff, under the retry policy's deadlines."""
    return Verdict(
        RETRY, reason=reason, reset_window=reset_window, pause_floor=pause_floor, counts_error=counts_error, throttled=throttled
    )


def throttle() -> Verdict:
    """HTTP 429: put the request's scope in the penalty box for every sharer, then send again."""
    return Verdict(THROTTLE, counts_error=False)


def recover(error: IbkrError) -> Verdict:
    """The session (401) or brokerage tier (no bridge) must be re-established, then the request sent again."""
    return Verdict(RECOVER, error=error)


def prime(text: str) -> Verdict:
    """IBKR asked for a listing call first (call-order rule); carries IBKR's words."""
    return Verdict(PRIME, reason=text, counts_error=False)


def fail(error: IbkrError, *, counts_error: bool = True) -> Verdict:
    """Raise ``error`` now: waiting cannot cure it."""
    return Verdict(FAIL, error=error, counts_error=counts_error)


def not_the_service(answer: Answer, *, expected: str, hint: str) -> Verdict | None:
    """A redirect or a web page where the service's ``expected`` format should be: a login page or a wrong URL."""
    if 300 <= answer.status < 400:
        where = answer.headers.get("Location", "elsewhere").split("?")[0]
        return fail(
            NotJsonAnswer(
                f"{answer.where} redirected the request to {where}: a login page or a wrong {hint}",
                endpoint=answer.endpoint,
                status=answer.status,
            )
        )
    if answer.status < 500 and answer.status not in (401, 429) and is_web_page(_Headers(answer.headers), answer.content):
        title = page_title(answer.content)
        return fail(
            NotJsonAnswer(
                f"{answer.where} answered a web page{f' ({title!r})' if title else ''} instead of IBKR's {expected}: "
                f"probably a login page or a wrong {hint}",
                endpoint=answer.endpoint,
                status=answer.status,
            )
        )
    return None


class _Headers:
    """Adapts a header mapping to what ``answers.is_web_page`` reads (``.headers.get``)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers
