"""Do the Web API's executions and the Flex statements' fills agree on the days both landed?

The two are the same fills seen twice (``execution_id`` is Flex's ``ibExecID``), so on a date the
trades endpoint landed and the Flex statements cover, each side must list the same executions with the
same side, quantity and price. Flex fills are read with the rule that lands them as history
(``extract.flex_executions``), so the check and the landing cannot disagree about what a fill is.
A date counts as covered by Flex when its report and the next day's landed (an evening fill on an
Asian exchange is reported on the next date); a date whose executions were themselves landed from Flex
(history) is left out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from ibkr_pipelines.extract.flex_executions import FLEX_MARK, executions_from_flex
from ibkr_pipelines.land.warehouse import Warehouse
from ibkr_pipelines.windows import DateWindow

COMPARED = ("side", "quantity", "price")
PRICE_TOLERANCE = 1e-6  # both sides carry IBKR's decimal price; only float noise may differ


@dataclass(frozen=True)
class ExecutionsAgainstFlex:
    """The fills of the dates both sources landed: how many agree, and the ids of those that do not."""

    days: tuple[dt.date, ...]
    matched: int
    only_api: tuple[str, ...]
    only_flex: tuple[str, ...]
    differing: tuple[str, ...]

    @property
    def reconciles(self) -> bool:
        """True when every fill of the covered days is on both sides with the same side, quantity and price."""
        return not (self.only_api or self.only_flex or self.differing)


def _loaded_days(warehouse: Warehouse, table: str) -> set[dt.date]:
    """The dates of ``table`` that some load wrote (an empty date counts: nothing happened)."""
    _, rows = warehouse.query_readonly(
        "SELECT DISTINCT TRY_CAST(partition_key AS DATE) FROM _load_log WHERE table_name = ?", [table])
    return {r[0] for r in rows if r[0] is not None}


def _frame(warehouse: Warehouse, sql: str, params: list[object]) -> pl.DataFrame:
    """A query's rows as a polars frame (read-only connection)."""
    with warehouse.connect(read_only=True) as con:
        frame = pl.from_arrow(con.sql(sql, params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def executions_against_flex(warehouse: Warehouse) -> ExecutionsAgainstFlex:
    """Compare the Web API's executions with the Flex fills on every date both landed."""
    tables = {r[0] for r in warehouse.query_readonly("SELECT table_name FROM information_schema.tables")[1]}
    if not {"executions", "flex_trades", "_load_log"} <= tables:
        return ExecutionsAgainstFlex((), 0, (), (), ())
    flex_days = _loaded_days(warehouse, "flex_trades")
    # A date landed from Flex history is Flex against itself, not a comparison: only the Web API's dates count.
    _, marked = warehouse.query_readonly(
        "SELECT DISTINCT trade_date FROM executions WHERE coalesce(raw_extra, '') LIKE ?", [f"%{FLEX_MARK}%"])
    from_flex = {r[0] for r in marked}
    days = sorted(d for d in _loaded_days(warehouse, "executions")
                  if d in flex_days and d + dt.timedelta(days=1) in flex_days and d not in from_flex)
    if not days:
        return ExecutionsAgainstFlex((), 0, (), (), ())
    window = DateWindow(days[0], days[-1])
    api = _frame(warehouse, "SELECT account_id, execution_id, trade_date, side, quantity, price FROM executions "
                            "WHERE trade_date BETWEEN ? AND ? AND coalesce(raw_extra, '') NOT LIKE ?",
                 [window.start, window.end, f"%{FLEX_MARK}%"]).filter(pl.col("trade_date").is_in(days))
    trades = _frame(warehouse, "SELECT * FROM flex_trades WHERE report_date BETWEEN ? AND ?",
                    [window.start, window.end + dt.timedelta(days=1)])
    flex = executions_from_flex(trades, window).filter(pl.col("trade_date").is_in(days))
    joined = api.join(flex.select("account_id", "execution_id", *COMPARED), on=["account_id", "execution_id"],
                      how="full", suffix="_flex", coalesce=True)
    only_api = joined.filter(pl.col("side_flex").is_null() & pl.col("quantity_flex").is_null())
    only_flex = joined.filter(pl.col("side").is_null() & pl.col("quantity").is_null())
    both = joined.filter(pl.col("quantity").is_not_null() & pl.col("quantity_flex").is_not_null())
    differing = both.filter(
        (pl.col("side") != pl.col("side_flex"))
        | ((pl.col("quantity") - pl.col("quantity_flex")).abs() > PRICE_TOLERANCE)
        | ((pl.col("price") - pl.col("price_flex")).abs() > PRICE_TOLERANCE)
    )
    return ExecutionsAgainstFlex(tuple(days), both.height - differing.height, _ids(only_api), _ids(only_flex),
                                 _ids(differing))


def _ids(frame: pl.DataFrame) -> tuple[str, ...]:
    """The execution ids of ``frame``, sorted."""
    return tuple(sorted(frame.get_column("execution_id").to_list()))
