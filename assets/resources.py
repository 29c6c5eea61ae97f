"""Dagster resources: the IBKR connection (paced client or embedded simulator) and the warehouse."""


import datetime
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from ibkr_pipelines.config import Settings
from ibkr_pipelines.connection import Connection, open_connection
from ibkr_pipelines.staging import Storage


class IbkrResource(dg.ConfigurableResource):
    """IBKR access for assets; settings come from IBKR_* environment variables (no secrets in config).

    One connection is opened lazily per run process and shared by its steps, so the session,
    its keep-alive and the call-order priming are paid once.
    """

    simulator_options: dict[str, Any] = {}

    _stack: ExitStack | None = PrivateAttr(default=None)
    _connection: Connection | None = PrivateAttr(default=None)

    def connection(self, as_of: datetime.date) -> Connection:
        """The run's connection, pointed at ``as_of`` (the simulator's clock, or a check on a real account)."""
        if self._connection is None:
            self._stack = ExitStack()
            self._connection = self._stack.enter_context(
                open_connection(Settings.from_env(), simulator_options=self.simulator_options)
            )
        self._connection.at_date(as_of)
        return self._connection

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the connection (and stop an embedded simulator) at the end of the run process."""
        if self._stack is not None:
            self._stack.close()
        self._stack, self._connection = None, None


class WarehouseResource(dg.ConfigurableResource):
    """Where data lands: the Parquet lake, raw archive and DuckDB file under IBKR_DATA_DIR (default data/)."""

    data_dir: str = ""
    allow_shrink: bool = False  # let a re-run replace landed rows with far fewer (also IBKR_ALLOW_SHRINK)

    def storage(self) -> Storage:
        """The lake, raw archive and warehouse for this deployment."""
        settings = Settings.from_env()
        root = Path(self.data_dir) if self.data_dir else settings.data_dir
        return Storage.at(root, lock_timeout=settings.warehouse_lock_seconds)

    def shrink_allowed(self) -> bool:
        """Whether loads may shrink landed slices a lot (this resource's config or IBKR_ALLOW_SHRINK)."""
        return self.allow_shrink or Settings.from_env().allow_shrink
