"""Imports every Account Management endpoint module, so ``am_routes.AM_ROUTES`` is complete (one line each)."""

from __future__ import annotations

from ibkr_pipelines.simulator import am_funding, am_routes

__all__ = ["am_funding", "am_routes"]
