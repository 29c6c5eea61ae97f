"""Dagster resources: the IBKR connection (paced client or embedded simulator) and the warehouse.

Every setting is a config field the Dagster UI shows (Deployment > Resources). A field left unset
falls back to its ``IBKR_*`` environment variable, so ``make demo``, the CLI and the UI agree; a
secret (OAuth keys, a Flex token, when they come) is given as ``dg.EnvVar("IBKR_...")`` so its value
never appears in the UI or in run config. Both go through the same checks (``Settings.from_env``),
so a bad value fails with one line naming the setting.
"""


import os
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import Connection, open_connection
from ibkr_pipelines.errors import GatewayUnreachable, IbkrUnavailable, NotAuthenticated
from ibkr_pipelines.staging import Storage

# Config field -> the environment variable it stands for (and falls back to).
IBKR_FIELDS = {
    "base_url": "IBKR_BASE_URL",
    "account_ids": "IBKR_ACCOUNT_IDS",
    "auth": "IBKR_AUTH",
    "limits": "IBKR_LIMITS",
    "timeout_seconds": "IBKR_TIMEOUT",
    "outage_seconds": "IBKR_OUTAGE_SECONDS",
    "compete": "IBKR_COMPETE",
    "verify_tls": "IBKR_VERIFY_TLS",
    "ca_bundle": "IBKR_CA_BUNDLE",
    "pa_transaction_conids": "IBKR_PA_TRANSACTION_CONIDS",
    "watchlist": "IBKR_WATCHLIST",
    "bar_sizes": "IBKR_BAR_SIZES",
    "bar_source": "IBKR_BAR_SOURCE",
    "bars_outside_rth": "IBKR_BARS_OUTSIDE_RTH",
}
WAREHOUSE_FIELDS = {"data_dir": "IBKR_DATA_DIR", "lock_seconds": "IBKR_WAREHOUSE_LOCK_SECONDS"}


def settings_with(fields: dict[str, Any], names: dict[str, str]) -> Settings:
    """The settings of the environment with every config field that is set put in its variable's place."""
    env = dict(os.environ)
    for name, variable in names.items():
        value = fields.get(name)
        if value is not None:
            env[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    return Settings.from_env(env)


class IbkrResource(dg.ConfigurableResource):
    """IBKR access for assets and sensors: one paced client per run process, opened lazily and shared by its steps."""

    base_url: str | None = Field(None, description="IBKR_BASE_URL: the gateway's API root, e.g. https://localhost:5000/v1/api; unset: the embedded simulator.")
    account_ids: str | None = Field(None, description="IBKR_ACCOUNT_IDS: comma-separated accounts to land (unset: every account of the login).")
    auth: str | None = Field(None, description="IBKR_AUTH: gateway (OAuth modes come later).")
    limits: str | None = Field(None, description="IBKR_LIMITS: overrides of IBKR's pacing limits, e.g. global=5/1 (slower only).")
    timeout_seconds: float | None = Field(None, description="IBKR_TIMEOUT: read timeout of one request, seconds.")
    outage_seconds: float | None = Field(None, description="IBKR_OUTAGE_SECONDS: stop after IBKR answered only failures this long.")
    compete: bool | None = Field(None, description="IBKR_COMPETE: may a run take the brokerage session from TWS or the mobile app?")
    verify_tls: bool | None = Field(None, description="IBKR_VERIFY_TLS: verify the gateway's certificate.")
    ca_bundle: str | None = Field(None, description="IBKR_CA_BUNDLE: a CA file for the gateway's self-signed certificate.")
    pa_transaction_conids: str | None = Field(None, description="IBKR_PA_TRANSACTION_CONIDS: comma-separated conids whose /pa/transactions are landed (one call each, 15 minutes apart).")
    watchlist: str | None = Field(None, description="IBKR_WATCHLIST: comma-separated symbols to watch (SYMBOL or SYMBOL@EXCHANGE), resolved to conids.")
    bar_sizes: str | None = Field(None, description="IBKR_BAR_SIZES: comma-separated bar sizes of `bars` (default 1d,1min; any of IBKR's, e.g. 1h,5min).")
    bar_source: str | None = Field(None, description="IBKR_BAR_SOURCE: Trades (default), Midpoint or Bid_Ask; forex is always Midpoint.")
    bars_outside_rth: bool | None = Field(None, description="IBKR_BARS_OUTSIDE_RTH: include bars outside regular trading hours.")
    simulator_options: dict[str, Any] = Field({}, description="Options of the embedded simulator (tests and demos).")

    _stack: ExitStack | None = PrivateAttr(default=None)
    _connection: Connection | None = PrivateAttr(default=None)
    _unreachable: GatewayUnreachable | IbkrUnavailable | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)
    _opening: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # steps may ask at once (threads)

    def settings(self) -> Settings:
        """The checked settings: config fields, else ``IBKR_*`` variables, else defaults."""
        return settings_with(self.model_dump(), IBKR_FIELDS)

    def client(self) -> Connection:
        """The process's open connection (session, keep-alive, listings paid once), whatever dates it serves.

        When nothing answered at the address, IBKR answered only failures for the outage budget, or
        the login was refused (no gateway login, OAuth credentials refused), the run's later steps in
        this process get the same one-line error at once instead of each trying again.
        """
        with self._opening:
            if self._unreachable is not None:
                raise self._unreachable
            if self._connection is None:
                stack = ExitStack()
                try:
                    self._connection = stack.enter_context(
                        open_connection(self.settings(), simulator_options=self.simulator_options, verdict_group=self._run_id)
                    )
                except (GatewayUnreachable, IbkrUnavailable, NotAuthenticated) as exc:
                    stack.close()
                    self._unreachable = exc
                    raise
                self._stack = stack
            return self._connection

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the run, so its step processes share one "nothing answers" verdict (the pacing store's)."""
        self._run_id = context.run.run_id if context.run is not None else None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the connection (and stop an embedded simulator) at the end of the run process."""
        if self._stack is not None:
            self._stack.close()
        self._stack, self._connection, self._unreachable = None, None, None


class WarehouseResource(dg.ConfigurableResource):
    """Where data lands: the Parquet lake, raw archive and DuckDB file under one data directory."""

    data_dir: str | None = Field(None, description="IBKR_DATA_DIR: lake, raw archive and ibkr.duckdb live here (default data/).")
    lock_seconds: float | None = Field(None, description="IBKR_WAREHOUSE_LOCK_SECONDS: how long a load waits for a reader holding the DuckDB file.")
    allow_shrink: bool = Field(False, description="Let a re-run replace landed rows with far fewer (also IBKR_ALLOW_SHRINK).")

    def settings(self) -> Settings:
        """The checked settings: config fields, else ``IBKR_*`` variables, else defaults."""
        return settings_with(self.model_dump(), WAREHOUSE_FIELDS)

    def storage(self) -> Storage:
        """The lake, raw archive and warehouse for this deployment."""
        settings = self.settings()
        return Storage.at(Path(settings.data_dir), lock_timeout=settings.warehouse_lock_seconds)

    def shrink_allowed(self) -> bool:
        """Whether loads may shrink landed slices a lot (this resource's config or IBKR_ALLOW_SHRINK)."""
        return self.allow_shrink or self.settings().allow_shrink
