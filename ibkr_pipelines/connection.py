"""Opens a client to IBKR, or to the embedded simulator when no IBKR_BASE_URL is configured."""

from __future__ import annotations

import datetime
import functools
import logging
import os
import tempfile
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ibkr_pipelines.client.factory import build_client
from ibkr_pipelines.client.flex_client import DEFAULT_FLEX_URL, FlexAccess
from ibkr_pipelines.client.http_client import IbkrClient
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.client.oauth2 import AccessTokenAuth, OAuth2Auth
from ibkr_pipelines.config import OAuth2Settings, Settings
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.schemas.spec import Reach
from ibkr_pipelines import trading_calendar
from ibkr_pipelines.trading_calendar import trading_date
from ibkr_pipelines.windows import DateWindow

if TYPE_CHECKING:
    from ibkr_pipelines.simulator import Simulator

log = logging.getLogger(__name__)

# A snapshot endpoint answers "now"; a date is accepted from a real account only while "now" can
# still stand for its close: the date itself or the next day (a run after New York's midnight).
SNAPSHOT_GRACE_DAYS = 1


def reach_problem(window: DateWindow, reach: Reach, reach_days: int, today: datetime.date) -> str | None:
    """Why a real account cannot serve ``window`` for a source of this reach (None when it can)."""
    if reach is Reach.ANY:
        return None
    if reach is Reach.SETTLED:
        if window.end < today:
            return None
        return (f"IBKR writes the report of {window.end} after its close of business (ready around midnight ET): "
                f"land dates up to {today - datetime.timedelta(days=1)}, or run it again tomorrow")
    if reach is Reach.CURRENT:
        if window.end <= today and (today - window.start).days <= SNAPSHOT_GRACE_DAYS:
            return None
        return (
            f"IBKR's portfolio endpoints only return the current state; {window} cannot be snapshotted on "
            f"{today} (history comes from Flex statements)"
        )
    if window.end > today:
        return f"{window.end} is after today's trading date {today}"
    oldest = today - datetime.timedelta(days=reach_days - 1)
    if window.start >= oldest:
        return None
    return f"IBKR serves only the last {reach_days} days; {window} starts before {oldest}"


@dataclass
class Connection:
    """An open client, and the embedded simulator behind it when there is one."""

    client: IbkrClient
    simulator: "Simulator | None" = None

    def now(self) -> datetime.datetime:
        """The current instant as the IBKR behind this connection sees it: the simulator's clock, else the wall clock.

        What asks IBKR "is it ready yet?" (the report-readiness sensor) must ask about the simulated
        day when the simulator answers, and tests move that clock instead of reading the wall clock.
        """
        if self.simulator is not None:
            return self.simulator.clock.now()
        return trading_calendar.utc_now()

    def serve(
        self,
        window: DateWindow,
        reach: Reach = Reach.CURRENT,
        reach_days: int = 0,
        *,
        now: datetime.datetime | None = None,
    ) -> None:
        """Point the run at ``window``: move the simulator's clock to its end, or check a real account can serve it.

        A settled report (Flex) of the window's end exists from the next day: the simulator moves there.
        """
        if self.simulator is not None:
            self.simulator.set_today(window.end + datetime.timedelta(days=1 if reach is Reach.SETTLED else 0))
            return
        problem = reach_problem(window, reach, reach_days, trading_date(now))
        if problem:
            raise ConfigError("partition", problem)

    def oldest(self, reach: Reach, reach_days: int = 0, *, now: datetime.datetime | None = None) -> datetime.date | None:
        """The oldest date a real account serves today for this reach (None: any, or the simulator, whose clock moves)."""
        if self.simulator is not None or reach in (Reach.ANY, Reach.SETTLED):
            return None
        back = SNAPSHOT_GRACE_DAYS if reach is Reach.CURRENT else reach_days - 1
        return trading_date(now) - datetime.timedelta(days=back)

    def present(self, *, now: datetime.datetime | None = None) -> datetime.date:
        """The date IBKR's "now" stands for: today's trading date, or the date the embedded simulator started at.

        The simulator's clock moves back to serve a past window as that night would have been served;
        what is older than a reach from its starting date is history, as it would be on a real account.
        """
        if self.simulator is not None:
            return self.simulator.started_on
        return trading_date(now)

    def at_date(self, as_of: datetime.date, *, now: datetime.datetime | None = None) -> None:
        """Point the run at one date of a snapshot ("now") dataset."""
        self.serve(DateWindow.of(as_of), Reach.CURRENT, now=now)


def start_embedded_simulator(settings: Settings, as_of: datetime.date | None, **options: Any) -> "Simulator":
    """Start the embedded simulator on a free loopback port, enforcing IBKR's limits (or IBKR_SIM_LIMITS)."""
    from ibkr_pipelines.simulator import Simulator, SimulatorConfig

    if settings.sim_today is not None:
        if as_of is not None and as_of > settings.sim_today:
            raise ConfigError("IBKR_SIM_TODAY", f"{settings.sim_today} is before the run's last date {as_of}: "
                                                "the simulated today must be on or after it")
        as_of = settings.sim_today
    options.setdefault("limits_spec", settings.sim_limits)
    if settings.sim_extra_subaccounts:
        options.setdefault("extra_subaccounts", settings.sim_extra_subaccounts)
    config = SimulatorConfig(seed=settings.sim_seed, today=as_of, **options)
    try:
        config.effective_limits()
    except ValueError as exc:
        raise ConfigError("IBKR_SIM_LIMITS", str(exc).removeprefix("simulator limits: ")) from None
    simulator = Simulator(config).start()
    log.warning(
        "No IBKR_BASE_URL set: using the embedded IBKR simulator at %s (simulated accounts, not yours)",
        simulator.base_url,
    )
    return simulator


_shared_simulator: "Simulator | None" = None

# The embedded simulator's Flex query the datasets run: every section, one statement per account and
# day (its period is overridden by the window's fd/td).
SIMULATOR_FLEX_QUERIES = ("900001",)


def flex_access(settings: Settings, simulator: "Simulator | None") -> FlexAccess | None:
    """The Flex Web Service of this run: IBKR_FLEX_TOKEN's (IBKR's host, or IBKR_FLEX_URL), else the simulator's."""
    if settings.flex_token:
        return FlexAccess(settings.flex_url or DEFAULT_FLEX_URL, settings.flex_token, settings.flex_query_ids)
    if simulator is None:
        return None
    from ibkr_pipelines.simulator.flex_queries import DEFAULT_TOKEN
    from ibkr_pipelines.simulator.flex_service import FLEX_ROOT

    return FlexAccess(simulator.root_url + FLEX_ROOT, DEFAULT_TOKEN, settings.flex_query_ids or SIMULATOR_FLEX_QUERIES)


# What the embedded simulator's Account Management login may do: read statements and funding instructions.
SIMULATOR_AM_SCOPES = ("statements.read", "instructions.read")
_SIMULATOR_AM_LOGINS: "weakref.WeakKeyDictionary[Simulator, OAuth2Auth]" = weakref.WeakKeyDictionary()
_SIMULATOR_AM_LOCK = threading.Lock()


def simulator_account_management(simulator: "Simulator") -> AccessTokenAuth:
    """The embedded simulator's Account Management login: a key pair of this process, registered for /gw only.

    IBKR's Account Management API takes OAuth 2.0 access tokens alone (reference §3.1); a gateway login
    has none. The embedded simulator stands for an account whose owner registered an OAuth 2.0 client,
    so its datasets (statements, funding) run in the demo; its /v1/api keeps the gateway login.
    """
    from ibkr_pipelines.simulator.oauth2 import DEFAULT_CREDENTIAL, OAuth2Client

    with _SIMULATOR_AM_LOCK:
        login = _SIMULATOR_AM_LOGINS.get(simulator)
        if login is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            handle, name = tempfile.mkstemp(prefix="ibkr-sim-am-", suffix=".pem")  # owner-only (0600)
            with os.fdopen(handle, "wb") as out:
                out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
            weakref.finalize(simulator, os.remove, name)
            public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
            simulator.register_account_management_client(
                OAuth2Client("embedded-account-management", "embedded-key", public, DEFAULT_CREDENTIAL))
            login = _SIMULATOR_AM_LOGINS[simulator] = OAuth2Auth(OAuth2Settings(
                "embedded-account-management", "embedded-key", Path(name), DEFAULT_CREDENTIAL,
                scopes=SIMULATOR_AM_SCOPES))
    return login.for_account_management()


@contextmanager
def sharing_simulator(simulator: "Simulator") -> Iterator["Simulator"]:
    """Make connections opened in this process use ``simulator`` instead of starting their own."""
    global _shared_simulator
    previous, _shared_simulator = _shared_simulator, simulator
    try:
        yield simulator
    finally:
        _shared_simulator = previous


@contextmanager
def open_connection(
    settings: Settings,
    *,
    as_of: datetime.date | None = None,
    stats: RunStats | None = None,
    simulator_options: dict[str, Any] | None = None,
    verdict_group: str | None = None,
) -> Iterator[Connection]:
    """Yield a started client (session open, keep-alive running); close everything on exit.

    ``verdict_group`` (a run id) lets the run's other processes share a "nothing answers" verdict.
    """
    simulator, owned = None, False
    if settings.uses_simulator:
        simulator = _shared_simulator
        if simulator is None:
            simulator, owned = start_embedded_simulator(settings, as_of, **(simulator_options or {})), True
        base_url, ca_bundle = simulator.base_url, simulator.ca_bundle_path
    else:
        base_url, ca_bundle = str(settings.base_url), None
    try:
        client = build_client(settings, base_url, ca_bundle=ca_bundle, stats=stats, verdict_group=verdict_group)
        client.flex_access = flex_access(settings, simulator)
        if simulator is not None and settings.auth != "oauth2":
            client.account_management_login = functools.partial(simulator_account_management, simulator)
        connection = Connection(client=client, simulator=simulator)
        if as_of is not None:
            connection.at_date(as_of)
        with client:
            yield connection
    finally:
        if owned and simulator is not None:
            simulator.stop()
