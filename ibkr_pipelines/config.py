"""Settings from environment variables, each checked once with a one-line error naming it."""

from __future__ import annotations

import datetime
import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from ibkr_pipelines.client.limits import DEFAULT_PENALTY_SECONDS, Limits, default_limits
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.schemas.bars import BAR_SIZES, SOURCES as BAR_SOURCES

AUTH_MODES = ("gateway", "oauth1", "oauth2")
IBKR_API_URL = "https://api.ibkr.com/v1/api"  # where OAuth logins talk to IBKR (reference §1.3)
OAUTH1_REALMS = ("limited_poa", "test_realm")  # test_realm only with the TESTCONS consumer (reference §1.3)
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True)
class OAuth1Settings:
    """OAuth 1.0a credentials from IBKR's self-service portal (reference §1.3); secrets never in repr."""

    consumer_key: str
    access_token: str = field(repr=False)
    access_token_secret: str = field(repr=False)
    signature_key: Path = field(repr=False)
    encryption_key: Path = field(repr=False)
    dh_prime: str = field(repr=False)
    dh_generator: int = 2
    realm: str = "limited_poa"

@dataclass(frozen=True)
class OAuth2Settings:
    """An OAuth 2.0 ``private_key_jwt`` client registered with IBKR (reference §1.4); the key path never in repr."""

    client_id: str
    key_id: str
    private_key: Path = field(repr=False)
    credential: str = ""  # the IB username the SSO session acts for
    ip: str = ""  # this machine's public IP address, as IBKR sees it (the SSO session JWT's ``ip`` claim)
    scopes: tuple[str, ...] = ("sso-sessions.write",)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Everything the connector reads from the environment (no secrets are held here in gateway mode)."""

    auth: str = "gateway"
    base_url: str | None = None
    ca_bundle: Path | None = None
    verify_tls: bool = True
    account_ids: tuple[str, ...] = ()
    data_dir: Path = field(default_factory=lambda: Path("data"))
    limits_spec: str | None = None
    penalty_seconds: float = DEFAULT_PENALTY_SECONDS
    pacing_safety_seconds: float = 0.02
    penalty_scope: str = "scope"
    pacing_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "ibkr-pipelines" / "pacing")
    timeout_seconds: float = 30.0
    tickle_seconds: float = 60.0
    outage_seconds: float = 900.0
    warehouse_lock_seconds: float = 600.0
    allow_shrink: bool = False
    compete: bool = False  # may a run take the brokerage session from TWS or the mobile app?
    sim_seed: int = 7
    sim_limits: str | None = None  # the embedded simulator's own limits (IBKR's when unset)
    sim_extra_subaccounts: int = 0  # the embedded simulator's FA size beyond its demo accounts (try a big FA)
    # The embedded simulator's "now" (default: the run's last date): a window older than its reach from
    # this date is served as a real account would serve it today (executions: from Flex statements).
    sim_today: datetime.date | None = None
    # A new login's first run of a source with history (executions) lands from this date (the account's
    # opening), through Flex; later runs land their own window. Unset: the first run lands its own window.
    history_from: datetime.date | None = None
    # Conids whose /pa/transactions are landed (one call per conid, one call per 15 minutes).
    pa_transaction_conids: tuple[int, ...] = ()
    # Symbols to watch beside what the accounts hold: SYMBOL or SYMBOL@EXCHANGE (resolved to conids).
    watchlist: tuple[str, ...] = ()
    # Historical bars of every conid held or watched: the bar sizes, IBKR's source, regular hours or not.
    bar_sizes: tuple[str, ...] = ("1d", "1min")
    bar_source: str = "Trades"
    bars_outside_rth: bool = False
    oauth1: OAuth1Settings | None = None  # IBKR_AUTH=oauth1 only
    oauth2: OAuth2Settings | None = None  # IBKR_AUTH=oauth2 only
    # Flex Web Service (reference §4): the token (a secret, never shown) and the saved queries to run.
    flex_token: str | None = field(default=None, repr=False)
    flex_query_ids: tuple[str, ...] = ()
    flex_url: str | None = None  # the Flex Web Service root; IBKR's (§4.1) by default

    @property
    def uses_simulator(self) -> bool:
        """True when no IBKR_BASE_URL is set, so the embedded simulator stands in for IBKR."""
        return self.base_url is None

    @property
    def db_path(self) -> Path:
        """The DuckDB warehouse file."""
        return self.data_dir / "ibkr.duckdb"

    def limits(self) -> Limits:
        """IBKR's limits for this auth mode, with IBKR_LIMITS overrides and IBKR_PENALTY_SECONDS applied."""
        limits = default_limits(self.auth, penalty_seconds=self.penalty_seconds).with_overrides(self.limits_spec)
        return replace(limits, safety_seconds=self.pacing_safety_seconds, penalty_scope=self.penalty_scope)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read and check every IBKR_* setting; raise ``ConfigError`` naming the first bad one."""
        env = os.environ if env is None else env
        auth = env.get("IBKR_AUTH", "gateway").strip().lower() or "gateway"
        if auth not in AUTH_MODES:
            raise ConfigError("IBKR_AUTH", f"must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
        base_url = _base_url(env.get("IBKR_BASE_URL"))
        if auth in ("oauth1", "oauth2") and base_url is None:
            base_url = IBKR_API_URL  # OAuth talks to IBKR itself; the embedded simulator is a gateway
        ca_bundle = _optional_path(env, "IBKR_CA_BUNDLE", must_exist=True)
        settings = cls(
            auth=auth,
            base_url=base_url,
            ca_bundle=ca_bundle,
            verify_tls=_bool(env, "IBKR_VERIFY_TLS", True),
            account_ids=_account_ids(env),
            data_dir=Path(env.get("IBKR_DATA_DIR", "data")),
            limits_spec=env.get("IBKR_LIMITS") or None,
            penalty_seconds=_number(env, "IBKR_PENALTY_SECONDS", DEFAULT_PENALTY_SECONDS, minimum=0.0, maximum=86_400.0),
            penalty_scope=_choice(env, "IBKR_PENALTY_SCOPE", ("scope", "ip"), "scope"),
            pacing_safety_seconds=_number(env, "IBKR_PACING_SAFETY_MS", 20.0, minimum=0.0, maximum=5000.0) / 1000,
            pacing_dir=Path(env["IBKR_PACING_DIR"]) if env.get("IBKR_PACING_DIR") else cls().pacing_dir,
            timeout_seconds=_number(env, "IBKR_TIMEOUT", 30.0, minimum=0.1, maximum=3600.0),
            tickle_seconds=_number(env, "IBKR_TICKLE_SECONDS", 60.0, minimum=60.0, maximum=300.0),
            outage_seconds=_number(env, "IBKR_OUTAGE_SECONDS", 900.0, minimum=1.0, maximum=86_400.0),
            warehouse_lock_seconds=_number(env, "IBKR_WAREHOUSE_LOCK_SECONDS", 600.0, minimum=0.0, maximum=86_400.0),
            allow_shrink=_bool(env, "IBKR_ALLOW_SHRINK", False),
            compete=_bool(env, "IBKR_COMPETE", False),
            sim_seed=int(_number(env, "IBKR_SIM_SEED", 7, minimum=0, maximum=2**31)),
            sim_limits=env.get("IBKR_SIM_LIMITS") or None,
            sim_extra_subaccounts=int(_number(env, "IBKR_SIM_EXTRA_SUBACCOUNTS", 0, minimum=0, maximum=5000)),
            sim_today=_date(env, "IBKR_SIM_TODAY"),
            history_from=_date(env, "IBKR_HISTORY_FROM"),
            pa_transaction_conids=_conids(env, "IBKR_PA_TRANSACTION_CONIDS"),
            watchlist=_watchlist(env, "IBKR_WATCHLIST"),
            bar_sizes=_bar_sizes(env, "IBKR_BAR_SIZES", cls.bar_sizes),
            bar_source=_bar_source(env, "IBKR_BAR_SOURCE", cls.bar_source),
            bars_outside_rth=_bool(env, "IBKR_BARS_OUTSIDE_RTH", False),
            oauth1=_oauth1(env) if auth == "oauth1" else None,
            oauth2=_oauth2(env) if auth == "oauth2" else None,
            flex_token=(env.get("IBKR_FLEX_TOKEN") or "").strip() or None,
            flex_query_ids=_flex_query_ids(env),
            flex_url=_base_url(env.get("IBKR_FLEX_URL"), "IBKR_FLEX_URL"),
        )
        settings.limits()  # surface a bad IBKR_LIMITS now, as one line
        return settings


_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _required(env: Mapping[str, str], name: str, what: str, mode: str = "oauth1") -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        raise ConfigError(name, f"is required with IBKR_AUTH={mode}: {what}")
    return raw


def _oauth1(env: Mapping[str, str]) -> OAuth1Settings:
    """The OAuth 1.0a credentials, each checked for presence and form (values are never echoed)."""
    prime = _required(env, "IBKR_OAUTH1_DH_PRIME", "the Diffie-Hellman prime from the self-service portal (hex)")
    prime = prime.removeprefix("0x").removeprefix("0X")
    if not _HEX.match(prime) or int(prime, 16) < 2**255:
        raise ConfigError("IBKR_OAUTH1_DH_PRIME", "must be the portal's prime in hex (hundreds of hex digits, no 0x)")
    consumer_key = _required(env, "IBKR_OAUTH1_CONSUMER_KEY", "the consumer key you registered (e.g. TESTCONS)")
    realm = (env.get("IBKR_OAUTH1_REALM") or "").strip() or ("test_realm" if consumer_key == "TESTCONS" else "limited_poa")
    if realm not in OAUTH1_REALMS:
        raise ConfigError("IBKR_OAUTH1_REALM", f"must be one of {', '.join(OAUTH1_REALMS)}, got {realm!r}")
    return OAuth1Settings(
        consumer_key=consumer_key,
        access_token=_required(env, "IBKR_OAUTH1_ACCESS_TOKEN", "the access token from the self-service portal"),
        access_token_secret=_required(env, "IBKR_OAUTH1_ACCESS_TOKEN_SECRET",
                                      "the encrypted access-token secret from the self-service portal (base64)"),
        signature_key=_key_file(env, "IBKR_OAUTH1_SIGNATURE_KEY", "your private signature key (PEM)"),
        encryption_key=_key_file(env, "IBKR_OAUTH1_ENCRYPTION_KEY", "your private encryption key (PEM)"),
        dh_prime=prime.lower(),
        dh_generator=int(_number(env, "IBKR_OAUTH1_DH_GENERATOR", 2, minimum=2, maximum=2**31)),
        realm=realm,
    )


def _key_file(env: Mapping[str, str], name: str, what: str, mode: str = "oauth1") -> Path:
    path = _optional_path(env, name, must_exist=True)
    if path is None:
        raise ConfigError(name, f"is required with IBKR_AUTH={mode}: the path of {what}")
    return path


# Reference §3.1's scope table plus sso-sessions.write (§1.4 step 1).
OAUTH2_SCOPES = (
    "sso-sessions.write", "statements.read", "statements.write", "reports.read", "reports.write", "transfers.read",
    "transfers.write", "instructions.read", "accounts.write", "sso-browser-sessions.write", "fee-templates.write",
    "echo.read", "echo.write",
)


def _oauth2(env: Mapping[str, str]) -> OAuth2Settings:
    """The OAuth 2.0 client's settings, each checked for presence and form (values are never echoed)."""
    ip = _required(env, "IBKR_OAUTH2_IP", "this machine's public IP address as IBKR sees it (the SSO session's ip claim)",
                   "oauth2")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ConfigError("IBKR_OAUTH2_IP", "must be an IP address such as 203.0.113.7") from None
    scopes = tuple((env.get("IBKR_OAUTH2_SCOPES") or "sso-sessions.write").replace(",", " ").split())
    unknown = [s for s in scopes if s not in OAUTH2_SCOPES]
    if unknown:
        raise ConfigError("IBKR_OAUTH2_SCOPES", f"unknown scope {unknown[0]!r}; IBKR's: {', '.join(OAUTH2_SCOPES)}")
    return OAuth2Settings(
        client_id=_required(env, "IBKR_OAUTH2_CLIENT_ID", "the client id IBKR registered", "oauth2"),
        key_id=_required(env, "IBKR_OAUTH2_KEY_ID", "the key id (kid) your public key was registered under", "oauth2"),
        private_key=_key_file(env, "IBKR_OAUTH2_PRIVATE_KEY", "your private key (PEM)", "oauth2"),
        credential=_required(env, "IBKR_OAUTH2_CREDENTIAL", "the IB username this client acts for", "oauth2"),
        ip=ip,
        scopes=scopes,
    )


def _base_url(raw: str | None, setting: str = "IBKR_BASE_URL") -> str | None:
    if raw is None or not raw.strip():
        return None
    url = raw.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.username is not None or parsed.password is not None:
        # Never echo it: the part before '@' may be a password.
        raise ConfigError(
            setting,
            "must not carry a user name or password (user:***@host): the gateway holds the login; remove them",
        )
    if parsed.scheme not in ("http", "https") or not parsed.netloc or not parsed.hostname:
        example = "https://localhost:5000/v1/api" if setting == "IBKR_BASE_URL" else "https://host/path"
        raise ConfigError(setting, f"must look like {example}, got {raw!r}")
    try:
        parsed.port
    except ValueError:
        raise ConfigError(setting, f"has an unreadable port: {raw!r}") from None
    return url


def _flex_query_ids(env: Mapping[str, str]) -> tuple[str, ...]:
    """IBKR_FLEX_QUERY_IDS: the saved Flex queries' ids (digits), comma-separated."""
    ids = tuple(q.strip() for q in (env.get("IBKR_FLEX_QUERY_IDS") or "").split(",") if q.strip())
    bad = [q for q in ids if not q.isdigit()]
    if bad:
        raise ConfigError("IBKR_FLEX_QUERY_IDS", f"query ids are numbers (Reports > Flex Queries), got {bad[0]!r}")
    return ids


def _account_ids(env: Mapping[str, str]) -> tuple[str, ...]:
    ids = tuple(a.strip() for a in env.get("IBKR_ACCOUNT_IDS", "").split(",") if a.strip())
    for account_id in ids:
        if not _ACCOUNT_ID.match(account_id):
            raise ConfigError("IBKR_ACCOUNT_IDS", f"{account_id!r} is not an IBKR account id (letters and digits)")
    return ids


_WATCH_ENTRY = re.compile(r"^[A-Z0-9][A-Z0-9.\- ]{0,23}(@[A-Z0-9.]{1,16})?$")


def _watchlist(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    found = []
    for item in (x.strip().upper() for x in env.get(name, "").split(",")):
        if not item:
            continue
        if not _WATCH_ENTRY.match(item):
            raise ConfigError(name, f"{item!r} is not SYMBOL or SYMBOL@EXCHANGE (e.g. AAPL, SAP@IBIS)")
        found.append(item)
    return tuple(dict.fromkeys(found))


def _bar_sizes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    found = [x.strip() for x in env.get(name, "").split(",") if x.strip()]
    for size in found:
        if size not in BAR_SIZES:
            raise ConfigError(name, f"{size!r} is not a bar size IBKR serves; use some of {', '.join(BAR_SIZES)}")
    return tuple(dict.fromkeys(found)) or default


def _bar_source(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    named = {s.lower(): s for s in BAR_SOURCES} | {"last": "Trades"}
    if raw.lower() not in named:
        raise ConfigError(name, f"{raw!r} is not one of {', '.join(BAR_SOURCES)}")
    return named[raw.lower()]


def _conids(env: Mapping[str, str], name: str) -> tuple[int, ...]:
    found = []
    for item in (x.strip() for x in env.get(name, "").split(",")):
        if not item:
            continue
        if not item.isdigit() or int(item) <= 0:
            raise ConfigError(name, f"{item!r} is not a conid (a positive whole number, e.g. 265598)")
        found.append(int(item))
    return tuple(dict.fromkeys(found))


def _date(env: Mapping[str, str], name: str) -> datetime.date | None:
    """An optional YYYY-MM-DD date; one line naming the setting when it is not one."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(name, f"must be a date YYYY-MM-DD, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {raw!r}")
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float = math.inf) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {raw!r}")
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum:g}, got {raw!r}")
    if value > maximum:
        raise ConfigError(name, f"must be at most {maximum:g}, got {raw!r}")
    return value


def _optional_path(env: Mapping[str, str], name: str, *, must_exist: bool) -> Path | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    path = Path(raw.strip()).expanduser()
    if must_exist and not path.is_file():
        raise ConfigError(name, f"no such file: {raw!r}")
    return path
