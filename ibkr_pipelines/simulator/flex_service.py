"""The Flex Web Service (reference §4): SendRequest and GetStatement, version 3, with IBKR's error codes.

``GET {FLEX_ROOT}/SendRequest?t=TOKEN&q=QUERYID&v=3[&fd=yyyyMMdd&td=yyyyMMdd]`` answers a
FlexStatementResponse with a ReferenceCode and the Url of this simulator's GetStatement (§4.1);
``GET {FLEX_ROOT}/GetStatement?t=TOKEN&q=REFERENCECODE&v=3`` answers 1019 until the statement is ready,
then the FlexQueryResponse (flex_statement.py), streamed. Every answer is HTTP 200 with XML: errors are
``<Status>Fail</Status>`` (or ``Warn``) with ErrorCode and ErrorMessage (§4.1, §8 item 9: 1018 in XML,
not a 429).

Readiness: a statement is ready once the simulated clock is past its last date (Activity data is
refreshed once a day at close of business, §4.1; guess: the next calendar day) and once its reference
code has been polled ``generation_polls`` times with the data there (guess: IBKR publishes no
generation time). The first ready answer fixes the simulated date it was generated on, so fetching a
reference code again gives the same bytes.

Checks, in this order (guess: IBKR documents codes, not their order): 1015 unknown token; 1018 more than
the token's windows allow (1 per s, 10 per min: §4.1, §5.2; every arrival of a known token counts, as
in pacing.py); 1012 expired token; 1013 an address the token does not allow; 1020 a version other than 3
or a bad fd/td; 1014 a query the token does not have; on GetStatement 1017 an unknown reference code
(or another token's), 1001 with Status Warn when the fault is on (§4.2: one fixture says Warn), 1019;
on SendRequest 1003 for dates the service cannot serve (after today, or before the world).
Error texts paraphrase §4.2 (guess), except 1012's (ibflex's fixture: "Token has expired.").
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ibkr_pipelines.simulator.clock import NEW_YORK, close_datetime
from ibkr_pipelines.simulator.flex_queries import FlexConfig, FlexQuery, FlexToken
from ibkr_pipelines.simulator.flex_statement import Run, Writer
from ibkr_pipelines.simulator.pacing import arrivals_within, record_arrival
from ibkr_pipelines.simulator.payloads import Views
from ibkr_pipelines.simulator.world import WORLD_START, World

FLEX_ROOT = "/AccountManagement/FlexWebService"  # reference §4.1 (ndcdyn.interactivebrokers.com)
SEND_REQUEST = FLEX_ROOT + "/SendRequest"
GET_STATEMENT = FLEX_ROOT + "/GetStatement"
CONTENT_TYPE = "text/xml; charset=utf-8"  # guess
CHUNK_BYTES = 64 * 1024

MESSAGES = {
    1001: "Statement could not be generated at this time. Please try again shortly.",
    1003: "Statement is not available.",
    1012: "Token has expired.",
    1013: "IP restriction.",
    1014: "Query is invalid.",
    1015: "Token is invalid.",
    1017: "Reference code is invalid.",
    1018: "Too many requests have been made from this token. Please try again shortly.",
    1019: "Statement generation in progress. Please try again shortly.",
    1020: "Invalid request or unable to validate request.",
}


@dataclass
class FlexReply:
    """An answer: whole bytes, or chunks to stream (a statement); always HTTP 200 with XML."""

    body: bytes | None = None
    chunks: Iterator[bytes] | None = None
    content_type: str = CONTENT_TYPE


@dataclass
class _Pending:
    """A reference code: what it will generate, how often it was polled, when it was generated."""

    token: str
    run: Run
    polls: int = 0
    generated: datetime.date | None = None


class _Refused(Exception):
    """Raised inside a check to answer an error code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _timestamp(today: datetime.date) -> str:
    """FlexStatementResponse's timestamp at the simulated now: "28 August, 2012 10:37 AM EDT" (§4.1)."""
    local = close_datetime(today).astimezone(NEW_YORK)
    return f"{local.strftime('%d %B, %Y %I:%M %p')} {local.tzname()}"


def _response(today: datetime.date, parts: list[tuple[str, str]]) -> bytes:
    """A FlexStatementResponse: one child element a line (guess: ibflex's fixture has them on one line)."""
    body = "\n".join(f"<{k}>{v}</{k}>" for k, v in parts)
    return f'<FlexStatementResponse timestamp="{_timestamp(today)}">\n{body}\n</FlexStatementResponse>'.encode()


def _date_param(value: str) -> datetime.date:
    """A yyyyMMdd fd/td value (1020 when it is not one)."""
    try:
        return datetime.datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError:
        raise _Refused(1020) from None


class FlexService:
    """Thread-safe Flex Web Service state: reference codes, per-token rate windows, counters."""

    def __init__(self, config: FlexConfig, seed: int = 7) -> None:
        self.config = config
        self._seed = seed
        self._lock = threading.Lock()
        self._pending: collections.OrderedDict[str, _Pending] = collections.OrderedDict()
        self._issued = 0
        self.reset_stats()

    # -- counters --
    def reset_stats(self) -> None:
        """Forget the counters and the per-token rate windows (reference codes stay)."""
        with self._lock:
            self._arrivals: dict[str, collections.deque[float]] = {}
            self._counts = dict.fromkeys(("send_requests", "get_statements", "statements", "not_ready",
                                          "throttled", "warnings", "statement_bytes"), 0)
            self._errors: dict[str, int] = {}

    def stats(self) -> dict[str, Any]:
        """Counts for ``Simulator.stats()["flex"]``: requests per endpoint, statements served, 1019s (``not_ready``),
        1018s (``throttled``), Warn 1001s (``warnings``), every error code; never a token."""
        with self._lock:
            return dict(self._counts) | {"errors": dict(self._errors), "reference_codes": len(self._pending)}

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    # -- the endpoints --
    def answer(self, path: str, params: dict[str, str], client_ip: str, arrival: float, today: datetime.date,
               world: World, views: Views, get_url: str, warn: Callable[[], bool]) -> FlexReply:
        """Answer one request to SendRequest or GetStatement (``path`` is the URL path); anything else: 1020."""
        send = path == SEND_REQUEST
        if send or path == GET_STATEMENT:
            self._count("send_requests" if send else "get_statements")
        try:
            if not send and path != GET_STATEMENT:
                raise _Refused(1020)  # guess: another path under the service's root
            token = self._token(params, client_ip, arrival, today)
            if send:
                return self._send(token, params, today, get_url)
            return self._get(token, params, today, world, views, warn)
        except _Refused as refused:
            return self._fail(refused.code, today)

    def _fail(self, code: int, today: datetime.date) -> FlexReply:
        key = {1018: "throttled", 1019: "not_ready", 1001: "warnings"}.get(code)
        with self._lock:
            if key:
                self._counts[key] += 1
            self._errors[str(code)] = self._errors.get(str(code), 0) + 1
        status = "Warn" if code == 1001 else "Fail"
        return FlexReply(_response(today, [("Status", status), ("ErrorCode", str(code)),
                                           ("ErrorMessage", MESSAGES[code])]))

    def _token(self, params: dict[str, str], client_ip: str, arrival: float, today: datetime.date) -> FlexToken:
        """The request's token once it passes the token checks (1015, 1018, 1012, 1013, then the version)."""
        token = self.config.token(params.get("t", "").strip())
        if token is None:
            raise _Refused(1015)
        if self._throttled(token.token, arrival):
            raise _Refused(1018)
        if token.expires is not None and today >= token.expires:
            raise _Refused(1012)
        if token.allowed_ips and client_ip not in token.allowed_ips:
            raise _Refused(1013)
        if params.get("v", "").strip() != "3":  # reference §4.1: version 3
            raise _Refused(1020)
        return token

    def _throttled(self, token: str, t: float) -> bool:
        """Count an arrival of ``token``; True when a window holds more arrivals than it allows."""
        longest = max(s for _, s in self.config.windows)
        with self._lock:
            dq = self._arrivals.setdefault(token, collections.deque())
            record_arrival(dq, t, longest)
            return any(arrivals_within(dq, t, s) > n for n, s in self.config.windows)

    def _send(self, token: FlexToken, params: dict[str, str], today: datetime.date, get_url: str) -> FlexReply:
        query = self.config.query(params.get("q", "").strip())
        if query is None or query.query_id not in token.query_ids:
            raise _Refused(1014)
        run = self._run(query, params, today)
        with self._lock:
            code = self._new_code()
            self._pending[code] = _Pending(token.token, run)
            while len(self._pending) > self.config.reference_codes_kept:
                self._pending.popitem(last=False)
        return FlexReply(_response(today, [("Status", "Success"), ("ReferenceCode", code), ("Url", get_url)]))

    def _run(self, query: FlexQuery, params: dict[str, str], today: datetime.date) -> Run:
        """The dates a SendRequest asks for: fd/td when given (guess, module docstring), else the query's period."""
        fd, td = params.get("fd", "").strip(), params.get("td", "").strip()
        if not fd and not td:
            start, end = query.period_range(today, WORLD_START)
            return Run(query, start, end, query.period, today)
        if not (fd and td):
            raise _Refused(1020)
        start, end = _date_param(fd), _date_param(td)
        if start > end or (end - start).days >= self.config.max_range_days:
            raise _Refused(1020)
        if end > today or end < WORLD_START:
            raise _Refused(1003)
        return Run(query, max(start, WORLD_START), end, "", today)

    def _new_code(self) -> str:
        """A 10-digit reference code, deterministic from the seed and how many were issued (lock held)."""
        while True:
            self._issued += 1
            h = hashlib.sha256(f"flex-ref:{self._seed}:{self._issued}".encode()).digest()
            code = str(1_000_000_000 + int.from_bytes(h[:8], "big") % 9_000_000_000)
            if code not in self._pending:
                return code

    def _get(self, token: FlexToken, params: dict[str, str], today: datetime.date, world: World, views: Views,
             warn: Callable[[], bool]) -> FlexReply:
        with self._lock:
            pending = self._pending.get(params.get("q", "").strip())
            if pending is None or pending.token != token.token:
                raise _Refused(1017)
        if warn():
            raise _Refused(1001)
        with self._lock:
            if pending.generated is None:
                if today <= pending.run.end:  # the last day's data comes after its close
                    raise _Refused(1019)
                if pending.polls < self.config.generation_polls:
                    pending.polls += 1
                    raise _Refused(1019)
                pending.generated = today
            run = Run(pending.run.query, pending.run.start, pending.run.end, pending.run.period, pending.generated)
        self._count("statements")
        return FlexReply(chunks=self._stream(Writer(world, views, run)))

    def _stream(self, writer: Writer) -> Iterator[bytes]:
        """The statement's bytes in chunks of about CHUNK_BYTES, counted as they go out."""
        parts: list[str] = []
        size = 0
        first = True
        for line in writer.lines():
            if not first:
                parts.append("\n")
            first = False
            parts.append(line)
            size += len(line) + 1
            if size >= CHUNK_BYTES:
                chunk = "".join(parts).encode()
                self._count("statement_bytes", len(chunk))
                yield chunk
                parts, size = [], 0
        chunk = "".join(parts).encode()
        self._count("statement_bytes", len(chunk))
        yield chunk
