"""IBKR pacing limits as data (reference §5), shared by the client limiter and the simulator.

Every request to the Client Portal API falls into the ``global`` scope (per username: 10 req/s
through the gateway, 50 req/s with OAuth) plus, where IBKR names one, a per-endpoint scope.
A scope carries one or more rate windows ("at most N requests in any P seconds") and/or a
concurrency cap ("at most N in flight"). Overrides come from configuration as text such as
``"global=8/1,portfolio_accounts=1/5,history=c4"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ibkr_pipelines.client.endpoints import CLIENT_PORTAL_ENDPOINTS
from ibkr_pipelines.errors import ConfigError


@dataclass(frozen=True)
class RateWindow:
    """At most ``count`` requests in any window of ``seconds`` seconds."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Sustained rate this window allows, in requests per second."""
        return self.count / self.seconds


@dataclass(frozen=True)
class Scope:
    """A named pacing scope: rate windows and/or a concurrency cap."""

    name: str
    windows: tuple[RateWindow, ...] = ()
    concurrency: int | None = None


@dataclass(frozen=True)
class EndpointRule:
    """Maps requests (method + path relative to ``/v1/api``) to a per-endpoint scope."""

    scope: str
    pattern: re.Pattern[str]
    methods: frozenset[str] = frozenset()  # empty: any method

    def matches(self, method: str, path: str) -> bool:
        """True when this rule covers the request."""
        return (not self.methods or method.upper() in self.methods) and bool(self.pattern.fullmatch(path))


GLOBAL = "global"
GATEWAY_GLOBAL_PER_S = 10
OAUTH_GLOBAL_PER_S = 50
DEFAULT_PENALTY_SECONDS = 600.0

# Per-endpoint scopes of the Client Portal API (reference §5.2); which endpoints fall into them is
# said by the endpoint table (``endpoints.py``).
_CP_SCOPES: tuple[Scope, ...] = (
    Scope("marketdata_snapshot", (RateWindow(10, 1.0),)),
    Scope("history", concurrency=5),
    Scope("scanner_params", (RateWindow(1, 900.0),)),
    Scope("scanner_run", (RateWindow(1, 1.0),)),
    Scope("trades", (RateWindow(1, 5.0),)),
    Scope("orders", (RateWindow(1, 5.0),)),
    Scope("pnl_partitioned", (RateWindow(1, 5.0),)),
    Scope("portfolio_accounts", (RateWindow(1, 5.0),)),
    Scope("portfolio_subaccounts", (RateWindow(1, 5.0),)),
    Scope("pa_performance", (RateWindow(1, 900.0),)),
    Scope("pa_summary", (RateWindow(1, 900.0),)),
    Scope("pa_transactions", (RateWindow(1, 900.0),)),
    # Not in the rate table; reference §2.7 says every /pa endpoint allows 1 request per 15 minutes.
    Scope("pa_allperiods", (RateWindow(1, 900.0),)),
    Scope("fyi", (RateWindow(1, 1.0),)),
    Scope("tickle", (RateWindow(1, 1.0),)),
    Scope("sso_validate", (RateWindow(1, 60.0),)),
)

# Which request counts against which scope: read from the endpoint table, the one place that says so.
_CP_RULES: tuple[EndpointRule, ...] = tuple(
    EndpointRule(scope=r.scope, pattern=r.pattern, methods=r.methods) for r in CLIENT_PORTAL_ENDPOINTS.rows if r.scope
)

# Largest batch IBKR accepts on /trsrv/secdef (a size limit, not a pacing scope).
SECDEF_MAX_CONIDS = 200

# Flex Web Service (per token) and Account Management (per master account, and per endpoint).
FLEX_SCOPE = Scope("flex_token", (RateWindow(1, 1.0), RateWindow(10, 60.0)))
AM_MASTER_SCOPE = Scope("am_master", (RateWindow(600, 60.0),))
AM_ENDPOINT_WINDOW = RateWindow(10, 1.0)


@dataclass(frozen=True)
class Limits:
    """The pacing limits in force: scopes by name, the rules that map requests to them, the penalty."""

    scopes: dict[str, Scope]
    rules: tuple[EndpointRule, ...]
    penalty_seconds: float = DEFAULT_PENALTY_SECONDS
    # Extra gap kept on every rate window so network jitter cannot push two requests into one window.
    safety_seconds: float = 0.02
    # What a 429 boxes: "scope" (the endpoint's own scope, or global) or "ip" (everything, as IBKR's
    # documented per-IP penalty box would; costs throughput when only one endpoint was at fault).
    penalty_scope: str = "scope"

    def scope(self, name: str) -> Scope:
        """The scope called ``name``."""
        return self.scopes[name]

    def endpoint_scope(self, method: str, path: str) -> Scope | None:
        """The per-endpoint scope for a Client Portal request, if IBKR names one."""
        for rule in self.rules:
            if rule.matches(method, path):
                return self.scopes[rule.scope]
        return None

    def scopes_for(self, method: str, path: str) -> list[Scope]:
        """Every scope a Client Portal request counts against: its endpoint scope, then global."""
        found = [self.scopes[GLOBAL]]
        own = self.endpoint_scope(method, path)
        if own is not None:
            found.insert(0, own)
        return found

    def with_overrides(self, spec: str | None) -> "Limits":
        """A copy with scopes replaced by an override spec such as ``"global=8/1,history=c4"``."""
        if not spec or not spec.strip():
            return self
        scopes = dict(self.scopes)
        for item in spec.split(","):
            name, _, value = item.strip().partition("=")
            name, value = name.strip(), value.strip()
            if not name or not value:
                raise ConfigError("IBKR_LIMITS", f"expected scope=N/SECONDS or scope=cN, got {item.strip()!r}")
            if name not in scopes:
                known = ", ".join(sorted(scopes))
                raise ConfigError("IBKR_LIMITS", f"unknown scope {name!r}; known scopes: {known}")
            scopes[name] = _parse_override(scopes[name], value)
        return replace(self, scopes=scopes)

    def with_penalty(self, seconds: float) -> "Limits":
        """A copy with another penalty-box duration (used when a 429 has no Retry-After)."""
        return replace(self, penalty_seconds=seconds)


def _parse_override(base: Scope, value: str) -> Scope:
    windows: list[RateWindow] = []
    concurrency = base.concurrency
    for part in value.split("+"):
        part = part.strip()
        try:
            if part.startswith("c"):
                concurrency = int(part[1:])
                if concurrency < 1:
                    raise ValueError
            else:
                count, _, seconds = part.partition("/")
                window = RateWindow(int(count), float(seconds or 1))
                if window.count < 1 or not 0 < window.seconds < 86_400:
                    raise ValueError
                windows.append(window)
        except ValueError:
            raise ConfigError("IBKR_LIMITS", f"cannot read limit {part!r} for scope {base.name!r}") from None
    return Scope(base.name, tuple(windows) if windows else base.windows, concurrency)


def default_limits(auth: str = "gateway", *, penalty_seconds: float = DEFAULT_PENALTY_SECONDS) -> Limits:
    """IBKR's published limits for the Client Portal API under the given auth mode."""
    per_s = GATEWAY_GLOBAL_PER_S if auth == "gateway" else OAUTH_GLOBAL_PER_S
    scopes = {GLOBAL: Scope(GLOBAL, (RateWindow(per_s, 1.0),))}
    scopes.update({s.name: s for s in _CP_SCOPES})
    scopes[FLEX_SCOPE.name] = FLEX_SCOPE
    scopes[AM_MASTER_SCOPE.name] = AM_MASTER_SCOPE
    return Limits(scopes=scopes, rules=_CP_RULES, penalty_seconds=penalty_seconds)


def am_endpoint_scope(path_template: str) -> Scope:
    """The per-endpoint Account Management scope (10 req/s) for one endpoint template."""
    return Scope(f"am:{path_template}", (AM_ENDPOINT_WINDOW,))


_ACCOUNT_ID = re.compile(r"^(?:[A-Z]{1,3}\d{3,}[A-Z]?|All)$")
_NUMBER = re.compile(r"^\d+$")


def endpoint_key(method: str, path: str) -> str:
    """A stable name for an endpoint, e.g. ``GET /portfolio/{accountId}/positions/{n}``, for counters."""
    parts = []
    for segment in path.split("?")[0].split("/"):
        if _ACCOUNT_ID.match(segment):
            parts.append("{accountId}")
        elif _NUMBER.match(segment):
            parts.append("{n}")
        else:
            parts.append(segment)
    return f"{method.upper()} {'/'.join(parts)}"
