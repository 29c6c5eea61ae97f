"""The report-readiness sensor: runs the reports group for a trading date once IBKR has its statement and Flex report.

Each tick looks at the latest date before today's trading date (New York) that it has not requested
(``ibkr_pipelines.readiness``: one ``/statements/available``, then one Flex SendRequest/GetStatement,
asked with a kept reference code instead when the last look got 1019). Ready: one run of every asset of
the ``reports`` group for that partition, run key ``flex:<date>``, so Dagster never runs a date twice;
dates between the last requested one and it (a sensor switched off for a few days) get theirs too, at
most ``CATCH_UP_DAYS``: older ones are a backfill. Not ready: a ``SkipReason`` saying why.

The cursor (JSON: the last requested date, the kept reference code, whether "Account Management cannot
be asked" was said) lives in Dagster's storage, so a restart goes on where it was. A look runs in a
thread the tick waits on for at most ``TICK_DEADLINE_SECONDS``, well under Dagster's 60 s sensor
timeout: a throttled or slow IBKR (the transport waits out 1018 and retries 5xx) skips the tick instead.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field, replace
from typing import Callable

import dagster as dg

from assets.bounded_look import BoundedLook
from assets.resources import IbkrResource
from ibkr_pipelines.connection import open_connection
from ibkr_pipelines import trading_calendar
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.readiness import KeptReference, Readiness, ReadinessProbe

REPORTS_GROUP = "reports"
RUN_KEY_PREFIX = "flex:"
TICK_DEADLINE_SECONDS = 20.0
CATCH_UP_DAYS = 7
# Statements are ready around midnight ET and Flex reports after the close (reference §3.3, §4.1): a look
# every 10 minutes finds them soon enough and spends at most 3 of the token's 10 Flex requests a minute.
TICK_SECONDS = 600


@dataclass(frozen=True)
class ReportCursor:
    """What the sensor remembers between ticks (and restarts): last requested date, kept reference, what it said."""

    requested: datetime.date | None = None
    kept: KeptReference | None = None
    said_statements_unchecked: bool = False

    def dump(self) -> str:
        """The cursor string Dagster stores."""
        return json.dumps({
            "requested": self.requested.isoformat() if self.requested else None,
            "kept": self.kept.to_json() if self.kept else None,
            "said_statements_unchecked": self.said_statements_unchecked,
        }, sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> "ReportCursor":
        """Back from ``dump`` (an empty or unreadable cursor starts afresh)."""
        try:
            data = json.loads(text) if text else {}
            requested = datetime.date.fromisoformat(data["requested"]) if data.get("requested") else None
        except (ValueError, TypeError, AttributeError):
            return cls()
        kept = KeptReference.from_json(data.get("kept")) if data.get("kept") else None
        return cls(requested, kept, bool(data.get("said_statements_unchecked")))


@dataclass
class TickOutcome:
    """What one look decided: dates to run, or why not, and the next cursor; ``said`` is a line to log once."""

    cursor: ReportCursor
    run_dates: list[datetime.date] = field(default_factory=list)
    skip: str = ""
    said: str = ""


def dates_to_request(requested: datetime.date | None, ready: datetime.date) -> list[datetime.date]:
    """The dates a ready ``ready`` brings: it, and those after ``requested`` before it (at most CATCH_UP_DAYS in all)."""
    first = ready if requested is None else max(requested + datetime.timedelta(days=1),
                                                ready - datetime.timedelta(days=CATCH_UP_DAYS - 1))
    return [first + datetime.timedelta(days=n) for n in range((ready - first).days + 1)]


def look(ibkr: IbkrResource, cursor: ReportCursor) -> TickOutcome:
    """One tick's work: pick the date, look at it (unless requested already), decide.

    The look opens its own connection and closes it, whatever the tick does meanwhile: a look that
    outlives its tick (``bounded_look``) must not use a resource Dagster tears down when the tick ends.
    A real account's date is known before connecting, so a date requested already costs no login; the
    embedded simulator's "now" is its clock, read through the connection.
    """
    settings = ibkr.settings()
    if not settings.uses_simulator:
        skip = _requested_already(cursor, trading_calendar.trading_date(trading_calendar.utc_now()))
        if skip is not None:
            return skip
    with open_connection(settings, simulator_options=ibkr.simulator_options) as connection:
        now = connection.now() if connection.simulator is not None else trading_calendar.utc_now()
        today = trading_calendar.trading_date(now)
        day = today - datetime.timedelta(days=1)
        skip = _requested_already(cursor, today)
        if skip is not None:
            return skip
        probe = ReadinessProbe(connection, account_filter=settings.account_ids)
        readiness: Readiness = probe.look(day, cursor.kept)
    unchecked = readiness.statements.ready is None
    said = readiness.statements.reason if unchecked and not cursor.said_statements_unchecked else ""
    if not readiness.ready:
        kept = readiness.flex.kept if readiness.flex is not None else cursor.kept
        reason = readiness.reason + (f" ({said})" if said else "")
        return TickOutcome(replace(cursor, kept=kept, said_statements_unchecked=unchecked), skip=reason, said=said)
    return TickOutcome(ReportCursor(day, None, unchecked), run_dates=dates_to_request(cursor.requested, day), said=said)


def _requested_already(cursor: ReportCursor, today: datetime.date) -> TickOutcome | None:
    """A skip when the date before ``today`` was requested already (None: it still has to be looked at)."""
    day = today - datetime.timedelta(days=1)
    if cursor.requested is not None and cursor.requested >= day:
        return TickOutcome(cursor, skip=f"{day} is requested already (run key {RUN_KEY_PREFIX}{day}); "
                                        f"{today} is looked at after its close")
    return None


LOOKS: BoundedLook[TickOutcome] = BoundedLook("readiness")


def look_within(work: Callable[[], TickOutcome], seconds: float) -> TickOutcome | str:
    """``work``'s outcome if it ends within ``seconds``, else a line saying why not (``bounded_look``)."""
    return LOOKS.within(work, seconds)


@dg.sensor(
    name="report_readiness",
    asset_selection=dg.AssetSelection.groups(REPORTS_GROUP),
    minimum_interval_seconds=TICK_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the reports group (Flex tables, statements) for a trading date once IBKR's statement and "
                "Flex report of it are ready; run key flex:<date>, so a date runs once.",
)
def report_readiness(context: dg.SensorEvaluationContext, ibkr: IbkrResource) -> dg.SensorResult:
    """Request the reports run of the latest closed trading date once IBKR says it is ready, else skip saying why."""
    cursor = ReportCursor.load(context.cursor)
    try:
        outcome = look_within(lambda: look(ibkr, cursor), TICK_DEADLINE_SECONDS)
    except IbkrPipelinesError as exc:  # a missing Flex token, an expired one, nothing answering: one line
        return dg.SensorResult(skip_reason=dg.SkipReason(str(exc)), cursor=cursor.dump())
    if isinstance(outcome, str):
        return dg.SensorResult(skip_reason=dg.SkipReason(outcome), cursor=cursor.dump())
    if outcome.said:
        context.log.warning(outcome.said)
    if not outcome.run_dates:
        return dg.SensorResult(skip_reason=dg.SkipReason(outcome.skip), cursor=outcome.cursor.dump())
    context.log.info(f"reports ready: requesting {', '.join(d.isoformat() for d in outcome.run_dates)}")
    requests = [dg.RunRequest(run_key=f"{RUN_KEY_PREFIX}{d}", partition_key=d.isoformat()) for d in outcome.run_dates]
    return dg.SensorResult(run_requests=requests, cursor=outcome.cursor.dump())
