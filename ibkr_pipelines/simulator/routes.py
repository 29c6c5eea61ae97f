"""The /v1/api endpoints: the core (api.py) plus one module of handlers per endpoint family.

Importing this module registers every route; the names below are what the server and handler use.
"""

from __future__ import annotations

from ibkr_pipelines.simulator import (  # noqa: F401
    routes_accounts,
    routes_market,
    routes_pa,
    routes_positions,
    routes_session,
    routes_trades,
)
from ibkr_pipelines.simulator.api import USER_ID, USER_NAME, Api, ApiError, Reply, Request, WorldState, error

__all__ = ["USER_ID", "USER_NAME", "Api", "ApiError", "Reply", "Request", "WorldState", "error"]
