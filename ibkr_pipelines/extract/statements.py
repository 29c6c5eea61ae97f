"""Account Management statements (reference §3.3) → files in the lake and rows of ``statements``.

Per account: ``GET /statements/available?accountId=`` lists the daily range, the months (``YYYYMM``)
and the years (``YYYY``) IBKR has a statement for. A window lands, of what is listed:

- the daily statement of each date of the window (``startDate`` = ``endDate`` = ``YYYYMMDD``);
- the monthly statement of a month whose last day is in the window (``YYYYMM``);
- the annual statement of a year whose 31 December is in the window (``YYYY``).

Each is one ``POST /statements`` (§3.3 StmtRequest: accountId, startDate, endDate, mimeType PDF), whose
answer holds the document in base64 (gzip-compressed when ``gzip`` is true). The document is saved as
``lake/statements_files/<account>/<period>/<start>_<end>.pdf`` through a ``DocumentSink`` (the staging
side's ``land.documents.DocumentStore``, so this module writes nothing itself) and described by one row.
A statement IBKR lists but refuses (a problem+json) or keeps failing (5xx past the retries) becomes one
readable line in ``failures``; the account's other statements still land.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import gzip
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import polars as pl

from ibkr_pipelines.errors import ProblemAnswer, TransientError
from ibkr_pipelines.extract.common import empty_frame
from ibkr_pipelines.windows import DateWindow

log = logging.getLogger(__name__)

PDF = "application/pdf"
FOLDER = "statements_files"  # under the lake: lake/statements_files/<account>/<period>/<start>_<end>.<ext>
_EXTENSIONS = {"application/pdf": "pdf", "text/html": "html"}


class StatementsClient(Protocol):
    """What the extractor needs of ``IbkrClient.account_management()``: GET and POST under /gw/api/v1."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to /gw/api/v1), parsed JSON."""

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body, parsed JSON."""


class DocumentSink(Protocol):
    """Where documents go (``land.documents.DocumentStore``): a safe relative path, and an atomic save."""

    def relative_path(self, *parts: str) -> str:
        """``lake/<parts...>``, relative to the data folder (ValueError for an unsafe part)."""

    def save(self, relative: str, content: bytes) -> bool:
        """Write ``content`` at ``relative`` unless the file holds exactly these bytes; True when written."""


class UnreadableStatement(ValueError):
    """A statement answer without a document this extractor can read (no base64 value, bad gzip)."""


@dataclass(frozen=True)
class Listed:
    """What ``/statements/available`` lists for one account: the daily range, months and years."""

    first_day: dt.date | None
    last_day: dt.date | None
    months: frozenset[str]
    years: frozenset[str]


def _yyyymmdd(text: Any) -> dt.date | None:
    """A ``YYYYMMDD`` date, or None when absent or unreadable."""
    try:
        return dt.datetime.strptime(str(text), "%Y%m%d").date()
    except ValueError:
        return None


def listed_statements(answer: Any) -> Listed:
    """The statements one ``/statements/available`` answer lists (§3.3: ``{data:{value:{daily,monthly,annual}}}``)."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    value = data.get("value") if isinstance(data, Mapping) else None
    value = value if isinstance(value, Mapping) else {}
    daily = value.get("daily") if isinstance(value.get("daily"), Mapping) else {}
    months = frozenset(str(m) for m in value.get("monthly") or () if m)
    years = frozenset(str(y) for y in value.get("annual") or () if y)
    return Listed(_yyyymmdd(daily.get("startDate")), _yyyymmdd(daily.get("endDate")), months, years)


@dataclass(frozen=True)
class Wanted:
    """One statement to ask for: account, period kind, first and last day, and the StmtRequest's date texts."""

    account_id: str
    period: str  # daily, monthly or annual
    start: dt.date
    end: dt.date
    start_text: str
    end_text: str

    def body(self, mime_type: str) -> dict[str, Any]:
        """The StmtRequest (§3.3): one account, the period's dates, the document type, not gzipped."""
        return {"accountId": self.account_id, "startDate": self.start_text, "endDate": self.end_text,
                "mimeType": mime_type, "gzip": False}

    def describe(self) -> str:
        """``U1234567 monthly 202611``, for a failure line."""
        return f"{self.account_id} {self.period} {self.start_text}"


def wanted_statements(account_id: str, listed: Listed, window: DateWindow) -> list[Wanted]:
    """The listed statements a window lands: each listed day, months and years whose last day is in the window."""
    wanted = []
    for day in window:
        if listed.first_day is not None and listed.last_day is not None and listed.first_day <= day <= listed.last_day:
            text = day.strftime("%Y%m%d")
            wanted.append(Wanted(account_id, "daily", day, day, text, text))
        month = day.strftime("%Y%m")
        if day.day == calendar.monthrange(day.year, day.month)[1] and month in listed.months:
            wanted.append(Wanted(account_id, "monthly", day.replace(day=1), day, month, month))
        if (day.month, day.day) == (12, 31) and str(day.year) in listed.years:
            wanted.append(Wanted(account_id, "annual", dt.date(day.year, 1, 1), day, str(day.year), str(day.year)))
    return wanted


def document_of(answer: Any, asked_mime: str) -> tuple[bytes, str]:
    """The document's bytes (un-gzipped) and mime type from a ``POST /statements`` answer (§3.3)."""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    value = data.get("value") if isinstance(data, Mapping) else None
    if not isinstance(value, str) or not value:
        raise UnreadableStatement("the answer holds no document (data.value is missing or empty)")
    try:
        content = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableStatement("data.value is not base64") from None
    if data.get("gzip") is True:  # §3.3: with gzip true, value holds gzip-compressed bytes
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError):
            raise UnreadableStatement("data.value is marked gzip but does not decompress") from None
    mime = data.get("mimeType")
    return content, mime if isinstance(mime, str) and mime else asked_mime


@dataclass(frozen=True)
class AccountStatements:
    """One account's statements over a window: the rows of those that landed, a line per one that did not."""

    frame: pl.DataFrame
    failures: tuple[str, ...]
    written: int  # files written (the others already held the same bytes)
    unlisted: int = 0  # dates of the window without a listed daily statement (before funding, too old, not ready)


def fetch_account_statements(client: StatementsClient, account_id: str, window: DateWindow, store: DocumentSink,
                             mime_type: str = PDF) -> AccountStatements:
    """List one account's statements, fetch and save those ``window`` lands, and describe each saved file."""
    listed = listed_statements(client.get("/statements/available", params={"accountId": account_id}))
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    written = 0
    wanted = wanted_statements(account_id, listed, window)
    for want in wanted:
        try:
            content, mime = document_of(client.post("/statements", json=want.body(mime_type)), mime_type)
            name = f"{want.start.isoformat()}_{want.end.isoformat()}.{_EXTENSIONS.get(mime, 'bin')}"
            relative = store.relative_path(FOLDER, account_id, want.period, name)
            written += store.save(relative, content)
        except (ProblemAnswer, TransientError, UnreadableStatement, ValueError) as exc:
            line = f"statement {want.describe()} not landed: {' '.join(str(exc).split())}"
            log.warning("%s", line)
            failures.append(line)
            continue
        rows.append({"end_date": want.end, "account_id": account_id, "period": want.period, "start_date": want.start,
                     "mime_type": mime, "path": relative, "sha256": hashlib.sha256(content).hexdigest(),
                     "size_bytes": len(content)})
    frame = pl.DataFrame(rows, schema=empty_frame("statements").schema) if rows else empty_frame("statements")
    daily = sum(1 for w in wanted if w.period == "daily")
    return AccountStatements(frame, tuple(failures), written, len(window) - daily)
