"""Extractors: IBKR JSON (pages, batches) -> polars frames shaped like the landed tables.

Each dataset module has a pure ``parse_<table>(body, ...)`` and a ``fetch_<table>(client, ...)``.
"""

from ibkr_pipelines.extract.accounts import fetch_accounts, parse_accounts
from ibkr_pipelines.extract.allocation import fetch_allocation, parse_allocation
from ibkr_pipelines.extract.contracts import fetch_contracts, parse_contracts
from ibkr_pipelines.extract.ledger import fetch_ledger, parse_ledger
from ibkr_pipelines.extract.orders import OrdersFetch, fetch_orders, parse_orders
from ibkr_pipelines.extract.pa_transactions import fetch_pa_transactions, parse_pa_transactions
from ibkr_pipelines.extract.performance import fetch_nav_and_returns, parse_allperiods
from ibkr_pipelines.extract.positions import PositionsFetch, fetch_positions, parse_positions
from ibkr_pipelines.extract.summary import fetch_account_summary, parse_account_summary
from ibkr_pipelines.extract.trades import ExecutionsFetch, fetch_executions, parse_trades

__all__ = [
    "ExecutionsFetch",
    "OrdersFetch",
    "PositionsFetch",
    "fetch_account_summary",
    "fetch_accounts",
    "fetch_allocation",
    "fetch_contracts",
    "fetch_executions",
    "fetch_ledger",
    "fetch_nav_and_returns",
    "fetch_orders",
    "fetch_pa_transactions",
    "fetch_positions",
    "parse_account_summary",
    "parse_accounts",
    "parse_allocation",
    "parse_allperiods",
    "parse_contracts",
    "parse_ledger",
    "parse_orders",
    "parse_pa_transactions",
    "parse_positions",
    "parse_trades",
]
