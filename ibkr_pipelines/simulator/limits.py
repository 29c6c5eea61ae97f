"""IBKR's published pacing limits as the simulator enforces them, written apart from the client's table.

Every number and path here comes from the reference (``shared/ibkr-web-api.md`` §5, §2.7), not from
``ibkr_pipelines.client.limits``: the two tables are kept separate on purpose, so that a mistake in the
client's (a wrong number, a path its rules miss) meets a 429 here instead of being shared. Only the
simulator's own setting changes them (``SimulatorConfig.limits_spec``, ``ibkr-pipelines simulator
--limits``, ``IBKR_SIM_LIMITS`` for the embedded one), never the client's ``IBKR_LIMITS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

GLOBAL = "global"
# Reference §5.1: 10 req/s through the CP Gateway, 50 req/s per username on the OAuth path.
GATEWAY_PER_S = 10
OAUTH_PER_S = 50
# Reference §5.3: "The violating IP address can be put in a penalty box for 10 minutes".
PENALTY_SECONDS = 600.0
# Reference §5.2 (/trsrv/secdef row): at most 200 conids per request (a size limit, not pacing).
SECDEF_MAX_CONIDS = 200


@dataclass(frozen=True)
class Window:
    """At most ``count`` arrivals in any ``seconds``-long window."""

    count: int
    seconds: float


@dataclass(frozen=True)
class PacedScope:
    """A scope IBKR paces: rate windows and/or a cap on requests in flight."""

    name: str
    windows: tuple[Window, ...] = ()
    concurrency: int | None = None


@dataclass(frozen=True)
class SimLimits:
    """The scopes in force, which requests fall in them, and the penalty for breaking one."""

    scopes: dict[str, PacedScope]
    rules: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]
    penalty_seconds: float = PENALTY_SECONDS

    def scopes_for(self, method: str, path: str) -> list[PacedScope]:
        """The endpoint's own scope (if IBKR names one), then the global scope."""
        found = [self.scopes[GLOBAL]]
        for scope, pattern, methods in self.rules:
            if (not methods or method.upper() in methods) and pattern.fullmatch(path):
                found.insert(0, self.scopes[scope])
                break
        return found


def _rule(scope: str, regex: str, *methods: str) -> tuple[str, re.Pattern[str], frozenset[str]]:
    return scope, re.compile(regex), frozenset(m.upper() for m in methods)


def _rate(name: str, count: int, seconds: float) -> PacedScope:
    return PacedScope(name, (Window(count, seconds),))


# Reference §5.2, row by row; §2.7 for /pa/allperiods ("each /pa endpoint is limited to 1 req / 15 min").
_SCOPES = (
    _rate("marketdata_snapshot", 10, 1.0),
    PacedScope("history", concurrency=5),
    _rate("scanner_params", 1, 900.0),
    _rate("scanner_run", 1, 1.0),
    _rate("trades", 1, 5.0),
    _rate("orders", 1, 5.0),
    _rate("pnl_partitioned", 1, 5.0),
    _rate("portfolio_accounts", 1, 5.0),
    _rate("portfolio_subaccounts", 1, 5.0),
    _rate("pa_performance", 1, 900.0),
    _rate("pa_summary", 1, 900.0),
    _rate("pa_transactions", 1, 900.0),
    _rate("pa_allperiods", 1, 900.0),
    _rate("fyi", 1, 1.0),
    _rate("tickle", 1, 1.0),
    _rate("sso_validate", 1, 60.0),
)

_RULES = (
    _rule("marketdata_snapshot", r"/iserver/marketdata/snapshot", "GET"),
    # Guess: /hmds/history (the farm behind the same data) shares the 5-in-flight cap.
    _rule("history", r"/iserver/marketdata/history|/hmds/history", "GET"),
    _rule("scanner_params", r"/iserver/scanner/params", "GET"),
    _rule("scanner_run", r"/iserver/scanner/run", "POST"),
    # The rate table says /iserver/trades and /iserver/orders; they are these endpoints (reference §2.6).
    _rule("trades", r"/iserver/account/trades|/iserver/trades", "GET"),
    _rule("orders", r"/iserver/account/orders|/iserver/orders", "GET"),
    _rule("pnl_partitioned", r"/iserver/account/pnl/partitioned", "GET"),
    _rule("portfolio_accounts", r"/portfolio/accounts", "GET"),
    # Guess: the paged /portfolio/subaccounts2 counts against the same 1 per 5 s as /subaccounts.
    _rule("portfolio_subaccounts", r"/portfolio/subaccounts2?", "GET"),
    _rule("pa_performance", r"/pa/performance", "POST"),
    _rule("pa_summary", r"/pa/summary", "POST"),
    _rule("pa_transactions", r"/pa/transactions", "POST"),
    _rule("pa_allperiods", r"/pa/allperiods", "POST"),
    _rule("fyi", r"/fyi/(unreadnumber|settings(/[^/]+)?|disclaimer/[^/]+|deliveryoptions.*|notifications(/more|/[^/]+)?)"),
    # The rate table lists GET; IBKR's own examples POST it. Guess: both count.
    _rule("tickle", r"/tickle", "GET", "POST"),
    _rule("sso_validate", r"/sso/validate", "GET"),
)


def ibkr_limits(auth: str = "gateway", *, penalty_seconds: float = PENALTY_SECONDS) -> SimLimits:
    """IBKR's published limits for a gateway (10 req/s) or an OAuth login (50 req/s)."""
    per_s = GATEWAY_PER_S if auth == "gateway" else OAUTH_PER_S
    scopes = {GLOBAL: _rate(GLOBAL, per_s, 1.0), **{s.name: s for s in _SCOPES}}
    return SimLimits(scopes=scopes, rules=_RULES, penalty_seconds=penalty_seconds)


# The Flex Web Service's per-token windows (flex_queries.FlexConfig.windows) in the override text.
FLEX_TOKEN = "flex_token"


def flex_windows(spec: str | None) -> tuple[tuple[int, float], ...] | None:
    """The Flex token windows the override text sets (``flex_token=20/1``), or None (IBKR's 1/s and 10/min)."""
    for name, value, _ in _items(spec):
        if name == FLEX_TOKEN:
            return tuple((w.count, w.seconds) for w in _windows(name, value))
    return None


def _items(spec: str | None) -> list[tuple[str, str, str]]:
    """The override text's ``scope=value`` items as (scope, value, item as written)."""
    if not spec or not spec.strip():
        return []
    return [(name.strip(), value.strip(), item) for item in spec.split(",") for name, _, value in [item.partition("=")]]


def _windows(name: str, value: str) -> list[Window]:
    """The ``N/SECONDS`` windows of one override item (ValueError naming the part it cannot read)."""
    windows = []
    for part in value.split("+"):
        try:
            count, _, seconds = part.strip().partition("/")
            window = Window(int(count), float(seconds or 1))
            if window.count < 1 or not 0 < window.seconds < 86_400:
                raise ValueError
        except ValueError:
            raise ValueError(f"simulator limits: cannot read {part.strip()!r} for scope {name!r}") from None
        windows.append(window)
    return windows


def with_overrides(limits: SimLimits, spec: str | None) -> SimLimits:
    """A copy with scopes replaced by the simulator's own override text, e.g. ``"global=50/1,history=c3"``.

    ``flex_token=N/S`` sets the Flex Web Service's windows instead (``flex_windows``): it is read there.
    """
    if not _items(spec):
        return limits
    scopes = dict(limits.scopes)
    for name, value, item in _items(spec):
        if name == FLEX_TOKEN and value:
            _windows(name, value)  # read by flex_windows; checked here so a bad one is refused with the rest
            continue
        if name not in scopes or not value:
            raise ValueError(f"simulator limits: expected <scope>=N/SECONDS or <scope>=cN with a known scope, got {item!r}")
        windows: list[Window] = []
        concurrency = scopes[name].concurrency
        for part in value.split("+"):
            part = part.strip()
            if not part.startswith("c"):
                windows.extend(_windows(name, part))
                continue
            try:
                concurrency = int(part[1:])
                if concurrency < 1:
                    raise ValueError
            except ValueError:
                raise ValueError(f"simulator limits: cannot read {part!r} for scope {name!r}") from None
        scopes[name] = PacedScope(name, tuple(windows) or scopes[name].windows, concurrency)
    return replace(limits, scopes=scopes)


_ACCOUNT_SEGMENT = re.compile(r"^(?:[A-Z]{1,3}\d{3,}[A-Z]?|All)$")


def endpoint_key(method: str, path: str) -> str:
    """The endpoint's name in the simulator's counters, ids folded: ``GET /portfolio/{accountId}/ledger``."""
    parts = []
    for segment in path.split("?")[0].split("/"):
        if _ACCOUNT_SEGMENT.match(segment):
            parts.append("{accountId}")
        elif segment.isdigit():
            parts.append("{n}")
        else:
            parts.append(segment)
    return f"{method.upper()} {'/'.join(parts)}"
