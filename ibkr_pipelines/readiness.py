"""Is a trading date's report ready at IBKR? One cheap look at its Account Management statement and Flex report.

IBKR writes both after the day closes, asynchronously, and asking too often is punished (Flex: 1 request
per second and 10 per minute per token, 1018 past them, reference §4.1; Account Management: 10 per
second per endpoint, 600 per minute, §3.1). So a look is small and never polls:

- **Statements** (§3.3): ``GET /gw/api/v1/statements/available?accountId=`` lists the daily statements'
  ``startDate``..``endDate``; the date is ready once ``endDate`` reaches it ("ready around midnight ET").
  One account is asked (guess: IBKR closes every account's day in one batch); an account that lists no
  daily statement (never funded) hands over to the next, at most ``STATEMENT_ACCOUNTS_ASKED``. A login
  that cannot reach Account Management (a gateway login without OAuth 2.0, or one IBKR refuses) is
  said so, and the Flex report alone decides.
- **Flex** (§4.1), asked only once the statement is ready (or cannot be asked): a ``SendRequest`` of the
  first query for that one date (``fd``/``td``), then ONE ``GetStatement``. 1019 (and the other "not
  yet" codes, §4.2) means not ready: the reference code is handed back to be kept, and the next look
  asks ``GetStatement`` with it again instead of a new ``SendRequest``.

The statement a ready look downloads is thrown away (one day of one query); the run fetches its own.
Nothing here waits or retries beyond what the transport does for one request; the caller bounds a look
in time. No Dagster here: ``assets/report_sensor.py`` turns looks into run requests.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.connection import Connection
from ibkr_pipelines.errors import FlexError, NotAuthenticated, NotReady, ProblemAnswer
from ibkr_pipelines.extract.flex import flex_client_of
from ibkr_pipelines.sources import login_accounts

log = logging.getLogger(__name__)

STATEMENT_ACCOUNTS_ASKED = 3
# How long a kept reference code is asked again before a new SendRequest. Guess: the reference (§4)
# does not say how long IBKR keeps one; ibflex polls one for under a minute. Past this, or on any Flex
# error when asking with it (1017 "reference code invalid" included), a new SendRequest is made.
REFERENCE_CODE_KEPT = datetime.timedelta(hours=1)
# Account Management answers that mean this login cannot ask it at all (no OAuth 2.0, no statements scope).
AM_REFUSED_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class KeptReference:
    """A Flex reference code whose statement was not ready yet: the date, the code, its URL, when it was asked."""

    day: datetime.date
    code: str
    url: str
    asked: datetime.datetime

    def usable_for(self, day: datetime.date, now: datetime.datetime) -> bool:
        """Whether to ask GetStatement with this code for ``day`` at ``now`` instead of a new SendRequest."""
        return self.day == day and datetime.timedelta(0) <= now - self.asked < REFERENCE_CODE_KEPT

    def to_json(self) -> dict[str, str]:
        """A JSON-able form (for a sensor's cursor)."""
        return {"day": self.day.isoformat(), "code": self.code, "url": self.url, "asked": self.asked.isoformat()}

    @classmethod
    def from_json(cls, data: Any) -> "KeptReference | None":
        """Back from ``to_json`` (None for anything unreadable: a new SendRequest is made then)."""
        try:
            return cls(datetime.date.fromisoformat(data["day"]), str(data["code"]), str(data["url"]),
                       datetime.datetime.fromisoformat(data["asked"]))
        except (TypeError, KeyError, ValueError):
            return None


@dataclass(frozen=True)
class StatementsLook:
    """What ``/statements/available`` said about a date: ready, not yet, or not asked (``ready`` None) and why."""

    ready: bool | None
    reason: str


@dataclass(frozen=True)
class FlexLook:
    """What one SendRequest/GetStatement said about a date's Flex report, and the reference code to keep."""

    ready: bool
    reason: str
    kept: KeptReference | None = None


@dataclass(frozen=True)
class Readiness:
    """Both looks at one date; the Flex one is skipped (None) while the statement is not ready."""

    day: datetime.date
    statements: StatementsLook
    flex: FlexLook | None

    @property
    def ready(self) -> bool:
        """Both ready, or the Flex report ready where Account Management cannot be asked."""
        return self.flex is not None and self.flex.ready and self.statements.ready is not False

    @property
    def reason(self) -> str:
        """One line: what each look found."""
        if self.flex is None:
            return f"{self.statements.reason}; the Flex report is asked once the statement is ready"
        if self.statements.ready is None:
            return self.flex.reason
        return f"{self.statements.reason}; {self.flex.reason}"


def reaches_account_management(client: IbkrClient) -> bool:
    """Whether this login has an Account Management signer: OAuth 2.0's token, or the embedded simulator's own login."""
    return client.account_management_login is not None or callable(getattr(client.auth, "for_account_management", None))


def _day_of(value: object) -> datetime.date | None:
    """A statements date, ``YYYYMMDD`` as §3.3 shows (guess: ``YYYY-MM-DD`` read too); None when neither."""
    for layout in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(str(value).strip(), layout).date()
        except ValueError:
            continue
    return None


class ReadinessProbe:
    """Cheap looks at one login's reports: its Account Management statements and its first Flex query."""

    def __init__(self, connection: Connection, *, account_filter: tuple[str, ...] = ()) -> None:
        """Look through ``connection`` (its transport paces every request); statements of ``account_filter``'s accounts."""
        self.connection = connection
        self.client = connection.client
        self.account_filter = account_filter

    def now(self) -> datetime.datetime:
        """The instant looks are made at: the simulated clock on the embedded simulator, else the wall clock."""
        return self.connection.now()

    def look(self, day: datetime.date, kept: KeptReference | None = None) -> Readiness:
        """Whether ``day``'s statement and then its Flex report are ready; ``kept`` is the previous look's reference code."""
        statements = self.statements(day)
        if statements.ready is False:
            return Readiness(day, statements, None)
        return Readiness(day, statements, self.flex(day, kept))

    def statements(self, day: datetime.date) -> StatementsLook:
        """Whether the daily statements of ``day`` are listed (``endDate`` reached it); ``ready`` None when not askable."""
        if not reaches_account_management(self.client):
            return StatementsLook(None, "this login cannot reach Account Management (a gateway login without "
                                        "OAuth 2.0): statements not checked, the Flex report alone decides")
        account_management = self.client.account_management()
        asked = 0
        for account in login_accounts(self.client, self.account_filter):
            if asked == STATEMENT_ACCOUNTS_ASKED:
                break
            asked += 1
            try:
                answer = account_management.get("/statements/available", params={"accountId": account})
            except (NotAuthenticated, ProblemAnswer) as refused:
                if isinstance(refused, ProblemAnswer) and refused.status not in AM_REFUSED_STATUSES:
                    raise
                return StatementsLook(None, f"Account Management refused this login ({refused}): statements not "
                                            "checked, the Flex report alone decides")
            data = answer.get("data") if isinstance(answer, dict) else None
            value = data.get("value") if isinstance(data, dict) else None
            daily = value.get("daily") if isinstance(value, dict) else None
            daily = daily if isinstance(daily, dict) else {}  # an answer of another shape lists no day
            if not daily.get("endDate"):
                continue  # never funded: it lists no day; the next account answers for the login
            last = _day_of(daily["endDate"])
            if last is None:
                return StatementsLook(False, f"account {account}'s statement listing has an unreadable endDate "
                                             f"{daily['endDate']!r}")
            if last >= day:
                return StatementsLook(True, f"the statement of {day} is ready (daily statements through {last})")
            return StatementsLook(False, f"the statement of {day} is not ready yet: IBKR lists daily statements "
                                         f"through {last} (a day's is ready around midnight ET)")
        return StatementsLook(False, f"no account of this login lists a daily statement yet ({asked} asked)")

    def flex(self, day: datetime.date, kept: KeptReference | None = None) -> FlexLook:
        """One GetStatement for ``day``'s Flex report: with ``kept``'s code when still usable, else after a SendRequest."""
        flex, access = flex_client_of(self.client)
        now = self.now()
        if kept is not None and kept.usable_for(day, now):
            try:
                flex.get_statement(kept.code, url=kept.url)
                return FlexLook(True, f"the Flex report of {day} is ready")
            except NotReady as not_yet:
                return FlexLook(False, self._not_ready(day, not_yet), kept)
            except FlexError as refused:  # 1017: IBKR forgot the code (or it was never good): ask anew
                log.info("the kept Flex reference code of %s was refused (%s); making a new SendRequest", day, refused.code)
        reference = flex.send_request(access.query_ids[0], from_date=day, to_date=day)
        fresh = KeptReference(day, reference.code, reference.url, now)
        try:
            flex.get_statement(reference.code, url=reference.url)
        except NotReady as not_yet:
            return FlexLook(False, self._not_ready(day, not_yet), fresh)
        return FlexLook(True, f"the Flex report of {day} is ready")

    @staticmethod
    def _not_ready(day: datetime.date, not_yet: NotReady) -> str:
        return f"the Flex report of {day} is not ready yet (IBKR answered {not_yet.code or 'not ready'}: still generating it)"
