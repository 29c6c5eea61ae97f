"""Settings of the simulator: what world to build, which limits to enforce, which faults to inject."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, fields
from typing import Any

from ibkr_pipelines.client.limits import Limits, default_limits
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


@dataclass
class SimulatorConfig:
    """Everything a simulator instance needs; defaults give a logged-in gateway with IBKR's limits."""

    seed: int = 7
    today: datetime.date | None = None  # None -> today's trading date (New York)
    port: int = 0
    tls: bool = False
    logged_in: bool = True
    limits: Limits | None = None
    penalty_seconds: float = 600.0
    penalty_scope: str = "scope"  # "scope" | "ip"
    send_retry_after: bool = False
    idle_timeout_seconds: float = 360.0
    latency: dict[str, float] = field(default_factory=dict)
    faults: FaultConfig = field(default_factory=FaultConfig)
    inject_position_without_conid: bool = False
    host: str = "127.0.0.1"
    # There is no setting for the world's extent: it starts on world.WORLD_START and the simulator
    # builds it as far as its clock needs. Every simulator of one seed tells the same history, so
    # ingesting date A in one process and date B in another gives one consistent account.

    def effective_limits(self) -> Limits:
        """The limits to enforce: the given ones, or IBKR's gateway defaults with our penalty length."""
        if self.limits is not None:
            return self.limits
        return default_limits("gateway", penalty_seconds=self.penalty_seconds)

    def effective_today(self) -> datetime.date:
        """The simulated date the clock starts at."""
        return self.today or trading_date()
