"""Imports every Account Management endpoint module, so ``am_routes.AM_ROUTES`` is complete (one line each)."""

from __future__ import annotations

from ibkr_pipelines.simulator import am_routes
from ibkr_pipelines.simulator import am_statements  # noqa: F401 - statements (reference §3.3)
from ibkr_pipelines.simulator import am_funding  # noqa: F401 - funding instructions (reference §3.4)

__all__ = ["am_routes"]
