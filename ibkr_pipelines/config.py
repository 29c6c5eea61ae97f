"""Settings from environment variables, each checked once with a one-line error naming it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from ibkr_pipelines.client.limits import DEFAULT_PENALTY_SECONDS, Limits, default_limits
from ibkr_pipelines.errors import ConfigError

AUTH_MODES = ("gateway", "oauth1", "oauth2")
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
    sim_seed: int = 7

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
        if auth != "gateway":
            raise ConfigError("IBKR_AUTH", f"{auth!r} is not supported yet; use 'gateway' (OAuth comes later)")
        base_url = _base_url(env.get("IBKR_BASE_URL"))
        ca_bundle = _optional_path(env, "IBKR_CA_BUNDLE", must_exist=True)
        settings = cls(
            auth=auth,
            base_url=base_url,
            ca_bundle=ca_bundle,
            verify_tls=_bool(env, "IBKR_VERIFY_TLS", True),
            account_ids=tuple(a.strip() for a in env.get("IBKR_ACCOUNT_IDS", "").split(",") if a.strip()),
            data_dir=Path(env.get("IBKR_DATA_DIR", "data")),
            limits_spec=env.get("IBKR_LIMITS") or None,
            penalty_seconds=_number(env, "IBKR_PENALTY_SECONDS", DEFAULT_PENALTY_SECONDS, minimum=0.0),
            penalty_scope=_choice(env, "IBKR_PENALTY_SCOPE", ("scope", "ip"), "scope"),
            pacing_safety_seconds=_number(env, "IBKR_PACING_SAFETY_MS", 20.0, minimum=0.0) / 1000,
            pacing_dir=Path(env["IBKR_PACING_DIR"]) if env.get("IBKR_PACING_DIR") else cls().pacing_dir,
            timeout_seconds=_number(env, "IBKR_TIMEOUT", 30.0, minimum=0.1),
            tickle_seconds=_number(env, "IBKR_TICKLE_SECONDS", 60.0, minimum=60.0),
            sim_seed=int(_number(env, "IBKR_SIM_SEED", 7, minimum=0)),
        )
        settings.limits()  # surface a bad IBKR_LIMITS now, as one line
        return settings


def _base_url(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    url = raw.strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError("IBKR_BASE_URL", f"must look like https://localhost:5000/v1/api, got {raw!r}")
    return url


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


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum:g}, got {raw!r}")
    return value


def _optional_path(env: Mapping[str, str], name: str, *, must_exist: bool) -> Path | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    path = Path(raw.strip()).expanduser()
    if must_exist and not path.is_file():
        raise ConfigError(name, f"no such file: {raw!r}")
    return path
