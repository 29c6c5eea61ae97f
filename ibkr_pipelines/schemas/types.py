"""Polars dtypes shared by the table schemas, so every table spells UTC timestamps the same way."""

from __future__ import annotations

import polars as pl

# Instants are stored as UTC; polars carries the zone so nothing downstream guesses it.
UTC_TIMESTAMP = pl.Datetime(time_unit="us", time_zone="UTC")
