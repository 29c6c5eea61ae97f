"""The report's SQL: one query per chart, each over a named view, with its literals written in.

The SQL shown under a chart is the text run here, so ``ibkr-pipelines sql "<that text>"`` prints the
same numbers. Literals are dates (ISO) and account ids (quoted), never free text from a user.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import duckdb
import polars as pl

# How many positions the "largest positions" chart shows.
TOP_POSITIONS = 15


@dataclass(frozen=True)
class Query:
    """One chart's SQL and the view it reads."""

    view: str
    sql: str

    def run(self, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        """The query's result as a polars frame."""
        return con.sql(self.sql).pl()


@dataclass(frozen=True)
class Scope:
    """What one section of the report covers: one account, or the login's accounts of one base currency."""

    title: str
    base_currency: str
    accounts: tuple[str, ...]
    is_login: bool
    start: dt.date | None
    end: dt.date | None

    def accounts_sql(self) -> str:
        """``account_id IN (...)`` for these accounts."""
        return "account_id IN (" + ", ".join(_quote(a) for a in self.accounts) + ")"

    def period_sql(self, column: str) -> str:
        """`` AND column BETWEEN ...`` for the report's period (empty when open)."""
        parts = []
        if self.start is not None:
            parts.append(f"{column} >= DATE '{self.start.isoformat()}'")
        if self.end is not None:
            parts.append(f"{column} <= DATE '{self.end.isoformat()}'")
        return "".join(f" AND {p}" for p in parts)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _compounded(rows_sql: str, date_column: str) -> str:
    """``rows_sql`` plus period_return: its daily returns compounded from the period's first date (that date: 0)."""
    return (
        f"WITH days AS (\n{rows_sql}\n),\nnumbered AS (\n"
        f"    SELECT *, row_number() OVER (ORDER BY {date_column}) AS n FROM days\n)\n"
        f"SELECT * EXCLUDE (n),\n"
        f"       product(CASE WHEN n = 1 THEN 1.0 ELSE 1.0 + coalesce(daily_return, 0.0) END)\n"
        f"           OVER (ORDER BY {date_column}) - 1.0 AS period_return\n"
        f"FROM numbered\nORDER BY {date_column}"
    )


def nav_curve(scope: Scope) -> Query:
    """NAV per date, with the TWR compounded over the report's period (nav_and_returns / login_nav_and_returns)."""
    if scope.is_login:
        view, where = "login_nav_and_returns", f"base_currency = {_quote(scope.base_currency)}"
    else:
        view, where = "nav_and_returns", scope.accounts_sql()
    sql = _compounded(
        f"SELECT nav_date, base_currency, nav, daily_return\nFROM {view}\n"
        f"WHERE {where} AND nav IS NOT NULL{scope.period_sql('nav_date')}", "nav_date")
    return Query(view, sql)


def cash_flows(scope: Scope) -> Query:
    """Deposits and withdrawals per date in base currency (external_cash_flows), marked on the NAV curve."""
    sql = (
        f"SELECT flow_date, sum(amount_base) AS amount_base\nFROM external_cash_flows\n"
        f"WHERE {scope.accounts_sql()}{scope.period_sql('flow_date')}\nGROUP BY flow_date\nORDER BY flow_date"
    )
    return Query("external_cash_flows", sql)


def benchmark_returns(scope: Scope, conid: int) -> Query:
    """The benchmark's daily return in the scope's base currency, compounded over the period (daily_returns)."""
    sql = _compounded(
        f"SELECT bar_date, symbol, return_base AS daily_return\nFROM daily_returns\n"
        f"WHERE conid = {int(conid)} AND base_currency = {_quote(scope.base_currency)}{scope.period_sql('bar_date')}",
        "bar_date")
    return Query("daily_returns", sql)


def allocation(scope: Scope) -> Query:
    """Value per dimension and bucket on every snapshot date of the period, in base currency (allocation_by_date)."""
    sql = (
        f"SELECT snapshot_date, dimension, bucket, sum(value_base) AS value_base\nFROM allocation_by_date\n"
        f"WHERE {scope.accounts_sql()}{scope.period_sql('snapshot_date')}\n"
        f"GROUP BY snapshot_date, dimension, bucket\nORDER BY snapshot_date, dimension, value_base DESC"
    )
    return Query("allocation_by_date", sql)


def largest_positions(scope: Scope) -> Query:
    """The largest positions by absolute base market value on each account's last snapshot of the period."""
    sql = (
        f"WITH last AS (\n    SELECT account_id, max(snapshot_date) AS snapshot_date FROM position_values\n"
        f"    WHERE {scope.accounts_sql()}{scope.period_sql('snapshot_date')} GROUP BY account_id\n)\n"
        f"SELECT p.conid, any_value(coalesce(p.contract_desc, p.ticker) || ' (' || p.asset_class || ')') AS holding,\n"
        f"       max(p.snapshot_date) AS snapshot_date,\n"
        f"       sum(p.base_market_value) AS market_value_base,\n"
        f"       sum(coalesce(p.base_unrealized_pnl, 0.0)) AS unrealized_pnl_base,\n"
        f"       sum(coalesce(p.base_realized_pnl, 0.0)) AS realized_pnl_base\n"
        f"FROM position_values AS p JOIN last USING (account_id, snapshot_date)\n"
        f"WHERE NOT p.is_cash\nGROUP BY p.conid\n"
        f"ORDER BY abs(market_value_base) DESC, holding\nLIMIT {TOP_POSITIONS}"
    )
    return Query("position_values", sql)


def cash_income(scope: Scope) -> Query:
    """Dividends, withholding, fees and interest per month and category in base currency (cash_income_by_month)."""
    sql = (
        f"SELECT month, category, sum(amount_base) AS amount_base\nFROM cash_income_by_month\n"
        f"WHERE {scope.accounts_sql()}{scope.period_sql('month')}\n"
        f"GROUP BY month, category\nORDER BY month, category"
    )
    return Query("cash_income_by_month", sql)


def realized_pnl(scope: Scope, columns: Sequence[str]) -> Query | None:
    """Realized P&L per year and asset category in base currency, from realized_pnl_by_year (None: no such view)."""
    if not {"account_id", "year", "asset_category", "realized_pnl_base"} <= set(columns):
        return None
    period = ""
    if scope.start is not None:
        period += f" AND year >= {scope.start.year}"
    if scope.end is not None:
        period += f" AND year <= {scope.end.year}"
    sql = (
        "SELECT year, asset_category, sum(realized_pnl_base) AS realized_pnl_base\nFROM realized_pnl_by_year\n"
        f"WHERE {scope.accounts_sql()}{period}\nGROUP BY year, asset_category\nORDER BY 1, 2"
    )
    return Query("realized_pnl_by_year", sql)


def coverage(start: dt.date | None, end: dt.date | None) -> Query:
    """What landed per dataset and date over the period (dataset_coverage); targeted tables only where asked."""
    period = ""
    if start is not None:
        period += f" AND coverage_date >= DATE '{start.isoformat()}'"
    if end is not None:
        period += f" AND coverage_date <= DATE '{end.isoformat()}'"
    sql = (
        "SELECT table_name, nightly, coverage_date, status, rows\nFROM dataset_coverage\n"
        "WHERE (nightly OR table_name IN (SELECT table_name FROM dataset_coverage WHERE loaded))"
        f"{period}\nORDER BY NOT nightly, table_name, coverage_date"
    )
    return Query("dataset_coverage", sql)
