"""Flex Web Service rules: XML answers, and IBKR's error codes turned into retry, "not yet" or one line.

Both steps answer HTTP 200 with XML (reference §4.1). A ``FlexStatementResponse`` whose ``Status`` is
``Fail`` or ``Warn`` carries ``ErrorCode``/``ErrorMessage`` (§4.2); anything else (a
``FlexStatementResponse`` with ``Success``, a ``FlexQueryResponse``) is the answer, returned as text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ibkr_pipelines.client.verdicts import Answer, Verdict, fail, not_the_service, ok, retry, throttle
from ibkr_pipelines.errors import ApiErrorBody, FlexError, NotAuthenticated, NotReady

URL_HINT = "Flex Web Service URL (it should end in /AccountManagement/FlexWebService)"

# §4.2: 1018 is the per-token pacing (1 req/s, 10 req/min): back off, at least as long as ibflex (10 s).
THROTTLED_CODES = frozenset({"1018"})
THROTTLED_PAUSE_SECONDS = 10.0
# §4.2 "yes" codes that say the statement is not ready: the caller polls GetStatement later.
NOT_READY_CODES = frozenset({"1019", "1004", "1005", "1006", "1007", "1008"})
# §4.2 "yes" codes that say IBKR cannot serve right now: retried under the transport's deadline.
# 1009 is heavy load (ibflex retries it); 1001 and 1021 "could not be generated/retrieved right now" (guess: transient).
TRANSIENT_CODES = frozenset({"1009", "1001", "1021"})
# §4.2 "no" codes, with what the user can do about them (the rest say IBKR's own words).
_TERMINAL_HINTS = {
    "1003": "the statement is not available",
    "1010": "legacy Flex queries are no longer supported: recreate the query",
    "1011": "the Flex service account is inactive",
    "1012": "the Flex token has expired: generate a new one (Reports > Settings > Flex Web Service)",
    "1013": "IBKR refused this IP address (IP restriction on the Flex token)",
    "1014": "the Flex query id is invalid",
    "1015": "the Flex token is invalid: check it, or generate a new one",
    "1016": "the account is invalid",
    "1017": "the reference code is invalid (or expired)",
    "1020": "IBKR could not validate the request (token, query id or version)",
}


@dataclass(frozen=True)
class FlexStatus:
    """The status part of a ``FlexStatementResponse``: ``Success``/``Fail``/``Warn`` and the error, if any."""

    status: str
    code: str
    message: str


def flex_status(content: bytes) -> FlexStatus | None:
    """The status of a ``FlexStatementResponse``; None for any other document (a statement)."""
    root = ET.fromstring(content)
    if root.tag != "FlexStatementResponse":
        return None
    return FlexStatus(
        status=(root.findtext("Status") or "").strip(),
        code=(root.findtext("ErrorCode") or "").strip(),
        message=" ".join((root.findtext("ErrorMessage") or "").split()),
    )


def parse_xml(content: bytes) -> str:
    """A Flex answer as text (the XML, untouched apart from decoding)."""
    return content.decode("utf-8", "replace")


def classify(answer: Answer, *, throttled_pause: float = THROTTLED_PAUSE_SECONDS) -> Verdict:
    """What a Flex answer means: the XML text, a retry, ``NotReady``, or a one-line ``FlexError``."""
    endpoint, status = answer.endpoint, answer.status
    elsewhere = not_the_service(answer, expected="XML", hint=URL_HINT)
    if elsewhere is not None:
        return elsewhere
    if status == 429:  # not documented for Flex (1018 is); treated as Client Portal treats it (guess)
        return throttle()
    if status == 401:
        return fail(NotAuthenticated("the Flex Web Service refused the request (401)", endpoint=endpoint, status=401))
    if status >= 500:
        return retry(f"HTTP {status}")
    if status >= 400:
        return fail(ApiErrorBody(f"the Flex Web Service refused the request (HTTP {status})", endpoint=endpoint, status=status))
    if not answer.content.strip():
        return retry("empty Flex answer")
    try:
        found = flex_status(answer.content)
    except ET.ParseError:
        return retry("truncated or malformed XML body")
    if found is None or found.status.lower() == "success":
        return ok(parse_xml(answer.content))
    code, words = found.code, found.message or "no error message"
    if code in THROTTLED_CODES:
        return retry(f"Flex {code} ({words})", pause_floor=throttled_pause, counts_error=False, throttled=True)
    if code in NOT_READY_CODES:
        return fail(
            NotReady(f"the Flex statement is not ready yet: {code} {words}", endpoint=endpoint, status=status, code=code),
            counts_error=False,
        )
    if code in TRANSIENT_CODES:
        return retry(f"Flex {code} ({words})")
    hint = _TERMINAL_HINTS.get(code, "IBKR refused the Flex request")
    return fail(FlexError(f"{hint}: Flex error {code or '?'} {words}", endpoint=endpoint, status=status, code=code, text=words))
