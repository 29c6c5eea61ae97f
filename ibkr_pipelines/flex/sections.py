"""Which table a Flex row goes to, from its section, element and level of detail.

A row is modelled when its (section, element) is one of ``ROUTES`` and its levelOfDetail is one
the table holds; every other row, of any section, known or not, goes to `flex_other_rows`.

- Trades and TradeConfirms: only execution lines (levelOfDetail EXECUTION, or none). The
  SymbolSummary, AssetSummary, Order and Lot rows a query's options add (and Trade rows carrying
  such a level, as older layouts wrote them) summarise those lines: modelling them as trades would
  count each execution twice.
- OpenPositions: only the position (SUMMARY, or none); LOT rows split it into tax lots.
- Cash transactions, transfers and corporate actions: every level (a query may be set to summary
  only), with level_of_detail in the row.
"""

from __future__ import annotations

OTHER_ROWS = "flex_other_rows"

ROUTES: dict[tuple[str, str], str] = {
    ("Trades", "Trade"): "flex_trades",
    ("TradeConfirms", "TradeConfirm"): "flex_trades",
    ("OpenPositions", "OpenPosition"): "flex_open_positions",
    ("CashTransactions", "CashTransaction"): "flex_cash_transactions",
    ("Transfers", "Transfer"): "flex_transfers",
    ("CorporateActions", "CorporateAction"): "flex_corporate_actions",
    ("ConversionRates", "ConversionRate"): "flex_conversion_rates",
    ("EquitySummaryInBase", "EquitySummaryByReportDateInBase"): "flex_nav",
    ("ChangeInNAV", "ChangeInNAV"): "flex_nav",
}

# The levels of detail a table holds (upper case; "" is a row without the attribute); absent: any.
LEVELS: dict[str, frozenset[str]] = {
    "flex_trades": frozenset({"", "EXECUTION"}),
    "flex_open_positions": frozenset({"", "SUMMARY"}),
}


def route(section: str, element: str, level_of_detail: str | None) -> str:
    """The table a row of ``element`` in ``section`` at ``level_of_detail`` lands in (`flex_other_rows` if none)."""
    table = ROUTES.get((section, element))
    if table is None:
        return OTHER_ROWS
    levels = LEVELS.get(table)
    if levels is not None and (level_of_detail or "").strip().upper() not in levels:
        return OTHER_ROWS
    return table
