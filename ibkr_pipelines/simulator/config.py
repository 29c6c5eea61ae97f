"""Settings of the simulator: what world to build, which limits to enforce, which faults to inject."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ibkr_pipelines.simulator.flex_queries import FlexConfig
from ibkr_pipelines.simulator.limits import PENALTY_SECONDS, SimLimits, flex_windows, ibkr_limits, with_overrides
from ibkr_pipelines.simulator.oauth1 import OAuth1Consumer
from ibkr_pipelines.simulator.oauth2 import OAuth2Client
from ibkr_pipelines.simulator.orders import OPEN_MAX
from ibkr_pipelines.simulator.roster import Roster
from ibkr_pipelines.trading_calendar import trading_date


@dataclass(frozen=True)
class FaultConfig:
    """Seeded fault injection: probabilities per request, decided from the request identity."""

    seed: int = 0
    p_5xx: float = 0.0
    p_timeout: float = 0.0
    p_malformed: float = 0.0
    p_drop_session: float = 0.0
    p_429: float = 0.0
    timeout_seconds: float = 2.0
    only_scope: str | None = None  # a scope name or an endpoint_key; None: every /v1/api request
    # Flex (flex_service.py): the share of GetStatement calls answered 1001 with Status Warn (reference
    # §4.2: "statement could not be generated right now", one fixture with Warn); not in ``active``.
    p_flex_1001: float = 0.0

    @property
    def active(self) -> bool:
        """True when any fault can fire, so the hot path can skip hashing otherwise."""
        return (self.p_5xx + self.p_timeout + self.p_malformed + self.p_drop_session + self.p_429) > 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FaultConfig":
        """Build from a JSON object (used by ``POST /sim/faults``); unknown keys are rejected."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class ViewOptions:
    """How answers are written where IBKR's sources disagree (SimulatorConfig's payload switches)."""

    # /portfolio/{id}/summary ``timestamp``: seconds in recording Portfolio/GET-portfolio-summary.json,
    # milliseconds in the OpenAPI example ("...in milliseconds") and in the [FA-SAMPLE] live samples.
    summary_timestamp_unit: str = "s"
    # ``value`` null on the money metrics (OpenAPI, [FA-SAMPLE] ``availablefunds``); the recording has strings.
    summary_null_values: bool = False


@dataclass
class SimulatorConfig:
    """Everything a simulator instance needs; defaults give a logged-in gateway with IBKR's limits."""

    seed: int = 7
    today: datetime.date | None = None  # None -> today's trading date (New York)
    port: int = 0
    tls: bool = False
    logged_in: bool = True
    # IBKR's published limits for this kind of login, changed only by the simulator's own override
    # text (never by the client's settings): e.g. "global=50/1" to run tests faster.
    auth: str = "gateway"  # "gateway" (10 req/s) | "oauth" (50 req/s)
    limits_spec: str | None = None
    penalty_seconds: float = PENALTY_SECONDS
    penalty_scope: str = "scope"  # "scope" | "ip"
    send_retry_after: bool = False
    idle_timeout_seconds: float = 360.0
    latency: dict[str, float] = field(default_factory=dict)  # seconds added before answering, per scope or endpoint
    # Every request reaches the simulator after a random 0..J s delay (seeded), as over a jittery
    # network: the arrival time its pacing counts is taken after the delay.
    arrival_jitter_seconds: float = 0.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    inject_position_without_conid: bool = False
    host: str = "127.0.0.1"
    # There is no setting for the world's extent: it starts on world.WORLD_START and the simulator
    # builds it as far as its clock needs. Every simulator of one seed tells the same history, so
    # ingesting date A in one process and date B in another gives one consistent account.

    # -- the session (session.py says what each state means and where it comes from) --
    # A freshly logged-in gateway has its brokerage session up; False: it needs ssodh/init first.
    brokerage_at_start: bool = True
    # Another platform (TWS, mobile) holds the username's brokerage session (``competing:true``).
    competing: bool = False

    # -- the accounts the FA master login sees (roster.py) --
    extra_subaccounts: int = 0  # that many more thin FA client accounts (a 150-client FA: 150)
    # Open GTC limit orders per account on /iserver/account/orders (orders.py); a 150-client FA with
    # 6 or more passes IBKR's 1000-order cap.
    open_orders_per_account: int = 2
    paper: bool = False  # paper ids (DF… master, DU… accounts) and isPaper:true

    # -- payload forms where IBKR's sources disagree --
    summary_timestamp_unit: str = "s"  # "s" (recording) | "ms" (OpenAPI example, FA live samples)
    summary_null_values: bool | None = None  # value null on money metrics; None: exactly when "ms"
    sparse_positions: str = "cold"  # "cold" | "persistent" | "never" (routes_positions.py)
    stale_position_cache: bool = True  # positions answer from a per-session cache until invalidated
    virtual_fx_positions: bool = False  # guess: the EUR client lists CASH rows for its other currencies
    model_portfolios: bool = False  # guess: one client holds positions split between "" and a model
    # /pa/transactions order: newest first (OpenAPI: "Sorted by date descending"), or oldest first as
    # the recording Portfolio/POST-pa-transactions.json lists its two transactions.
    pa_transactions_oldest_first: bool = False

    # -- OAuth 1.0a (oauth1.py, oauth1_gate.py) --
    # Consumers registered at start-up. With at least one, the simulator stands in for api.ibkr.com:
    # every /v1/api request must be OAuth-signed, the limits are IBKR's OAuth ones (reference §5.1),
    # and no gateway login is involved (logged_in and brokerage_at_start do not apply).
    oauth1_consumers: tuple[OAuth1Consumer, ...] = ()
    lst_seconds: float = 86400.0  # reference §1.3 step 7, §6: live session tokens are valid 24 h
    # guess: IBKR publishes no allowed clock skew for oauth_timestamp; 300 s is the usual OAuth tolerance.
    oauth1_timestamp_skew_seconds: float = 300.0

    # -- OAuth 2.0 (oauth2.py, oauth2_gate.py) --
    # Clients registered at start-up. With at least one (or an OAuth 1.0a consumer) the simulator stands
    # in for api.ibkr.com as above; it then also serves /oauth2/api/v1/token and /gw/api/v1/sso-sessions.
    oauth2_clients: tuple[OAuth2Client, ...] = ()
    # Reference §1.4 step 3: "expires_in": 86399. guess: an SSO session's bearer lives as long.
    bearer_seconds: float = 86399.0
    # Reference §1.4 step 6: new paper accounts may get 500 from ssodh/init; modelled only when True.
    oauth2_ssodh_init_500: bool = False

    # -- Account Management funding (am_funding.py) --
    # Wall seconds until a POST /instructions/query is PROCESSED. guess: IBKR's example asks to poll a minute
    # later; shorter here so tests are quick (60 for IBKR's pace, 0 for an answer on the first poll).
    funding_query_seconds: float = 2.0

    # -- the Flex Web Service (flex_queries.py: tokens, queries, its own 1/s and 10/min per token) --
    flex: FlexConfig = field(default_factory=FlexConfig)

    def __post_init__(self) -> None:
        if self.summary_timestamp_unit not in ("s", "ms"):
            raise ValueError(f"summary_timestamp_unit must be 's' or 'ms', got {self.summary_timestamp_unit!r}")
        if self.sparse_positions not in ("cold", "persistent", "never"):
            raise ValueError(f"sparse_positions must be 'cold', 'persistent' or 'never', got {self.sparse_positions!r}")
        if self.extra_subaccounts < 0:
            raise ValueError(f"extra_subaccounts must be >= 0, got {self.extra_subaccounts}")
        if not 0 <= self.open_orders_per_account <= OPEN_MAX:
            raise ValueError(f"open_orders_per_account must be 0..{OPEN_MAX}, got {self.open_orders_per_account}")
        if self.auth not in ("gateway", "oauth"):
            raise ValueError(f"auth must be 'gateway' or 'oauth', got {self.auth!r}")
        if self.lst_seconds <= 0 or self.oauth1_timestamp_skew_seconds < 0:
            raise ValueError("lst_seconds must be > 0 and oauth1_timestamp_skew_seconds >= 0")
        self.oauth1_consumers = tuple(self.oauth1_consumers)
        if self.bearer_seconds <= 0:
            raise ValueError(f"bearer_seconds must be > 0, got {self.bearer_seconds}")
        self.oauth2_clients = tuple(self.oauth2_clients)
        if self.funding_query_seconds < 0:
            raise ValueError(f"funding_query_seconds must be >= 0, got {self.funding_query_seconds}")

    @property
    def oauth_mode(self) -> bool:
        """True when OAuth 1.0a consumers or OAuth 2.0 clients are configured: the simulator is api.ibkr.com."""
        return bool(self.oauth1_consumers or self.oauth2_clients)

    def roster(self) -> Roster:
        """The accounts the login sees, from the account switches."""
        return Roster(self.extra_subaccounts, self.paper, self.virtual_fx_positions, self.model_portfolios)

    def view_options(self) -> ViewOptions:
        """How summary answers are written, from the payload switches."""
        nulls = self.summary_timestamp_unit == "ms" if self.summary_null_values is None else self.summary_null_values
        return ViewOptions(self.summary_timestamp_unit, nulls)

    def effective_limits(self) -> SimLimits:
        """The limits to enforce: IBKR's for ``auth`` (OAuth's with consumers), then ``limits_spec`` (ValueError)."""
        auth = "oauth" if self.oauth_mode else self.auth
        return with_overrides(ibkr_limits(auth, penalty_seconds=self.penalty_seconds), self.limits_spec)

    def effective_flex(self) -> FlexConfig:
        """The Flex Web Service's setting, its token windows as ``limits_spec`` may set them (``flex_token=N/S``)."""
        windows = flex_windows(self.limits_spec)
        return self.flex if windows is None else replace(self.flex, windows=windows)

    def effective_today(self) -> datetime.date:
        """The simulated date the clock starts at."""
        return self.today or trading_date()
