"""Extractors: IBKR JSON (pages, batches) -> polars frames shaped like the landed tables.

Each dataset module has a pure ``parse_<table>(body, ...)`` and a ``fetch_<table>(client, ...)``.
"""

from ibkr_pipelines.extract.accounts import fetch_accounts, parse_accounts
from ibkr_pipelines.extract.allocation import fetch_allocation, parse_allocation
from ibkr_pipelines.extract.contracts import fetch_contracts, parse_contracts
from ibkr_pipelines.extract.ledger import fetch_ledger, parse_ledger
from ibkr_pipelines.extract.positions import PositionsFetch, fetch_positions, parse_positions
from ibkr_pipelines.extract.summary import fetch_account_summary, parse_account_summary

__all__ = [
    "PositionsFetch",
    "fetch_account_summary",
    "fetch_accounts",
    "fetch_allocation",
    "fetch_contracts",
    "fetch_ledger",
    "fetch_positions",
    "parse_account_summary",
    "parse_accounts",
    "parse_allocation",
    "parse_contracts",
    "parse_ledger",
    "parse_positions",
]
