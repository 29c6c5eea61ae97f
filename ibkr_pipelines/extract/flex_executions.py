"""Flex trade lines → `executions` rows: the fills older than the Web API's 7 days (reference §2.6).

`/iserver/account/trades` answers the last 7 days only; Flex statements reach back to the account's
opening (reference §4). A fill is the same in both: Flex's ``ibExecID`` (TCF: ``execID``) is the Web
API's ``execution_id``, so rows from either land under one key and the days both cover reconcile.

Which Flex lines are fills: execution lines with an execution id, each once (an Activity ``Trade``
line wins over a ``TradeConfirm`` line of the same id), and neither a cancellation line
(``transactionType`` TradeCancel, or the ``Ca`` note) nor the line it cancels (named by
``origTransactionID``, else by ``origTradeID``): the Web API no longer lists a busted fill.

The Web API's conventions are kept: ``side`` B or S, ``quantity`` unsigned, ``commission`` positive when
charged (Flex writes it negative), ``net_amount`` quantity x price x multiplier unsigned (Flex
``tradeMoney``), ``trade_date`` the New York date of the fill. Columns Flex has no value for
(submitter, clearing id, IBKR's order text) stay null; ``raw_extra`` names the Flex line it came from.
"""

from __future__ import annotations

import polars as pl

from ibkr_pipelines.extract.common import SIDES, empty_frame, polars_schema
from ibkr_pipelines.trading_calendar import TRADING_TIMEZONE_NAME
from ibkr_pipelines.windows import DateWindow


DERIVATIVES = ("OPT", "FOP", "FUT", "WAR", "IOPT")  # asset categories the Web API names by their underlying

# raw_extra of a fill landed from Flex names its Flex line under this key (the Web API's never does).
FLEX_MARK = '"flex_row_key"'


def _cancelled(trades: pl.DataFrame) -> pl.Expr:
    """True on cancellation lines and on the lines they cancel."""
    cancel = (pl.col("transaction_type") == "TradeCancel") | pl.col("notes").fill_null("").str.contains(r"(^|;)Ca(;|$)")
    cancels = trades.filter(cancel)
    by_transaction = cancels.get_column("orig_transaction_id").drop_nulls().to_list()
    by_trade = cancels.filter(pl.col("orig_transaction_id").is_null()).get_column("orig_trade_id").drop_nulls().to_list()
    # A Trade Confirmation line has no transactionID (null): null is "not cancelled", never a dropped fill.
    return (cancel | pl.col("transaction_id").is_in(by_transaction) | pl.col("trade_id").is_in(by_trade)).fill_null(False)


def executions_from_flex(trades: pl.DataFrame, window: DateWindow) -> pl.DataFrame:
    """The fills among ``trades`` (rows of `flex_trades`) dated in ``window``, in the `executions` layout."""
    if not trades.height:
        return empty_frame("executions")
    fills = (
        trades.filter(pl.col("exec_id").is_not_null() & ~_cancelled(trades))
        .sort(pl.col("element") != "Trade")  # an Activity line before a Trade Confirmation line of the same fill
        .unique(subset=["account_id", "exec_id"], keep="first", maintain_order=True)
    )
    rows = fills.select(
        pl.col("trade_time").dt.replace_time_zone("UTC").dt.convert_time_zone(TRADING_TIMEZONE_NAME).dt.date().alias("trade_date"),
        pl.col("exec_id").alias("execution_id"),
        "account_id",
        "conid",
        # The Web API names a derivative by its underlying (JPM); Flex's symbol is the local one (JPM 320116C...).
        # A bond keeps Flex's symbol (its description, e.g. "VZ 4.5 05/15/40"; the Web API says the issuer, VZ):
        # Flex's trade lines name no issuer column to take it from.
        pl.when(pl.col("asset_category").is_in(DERIVATIVES)).then(pl.coalesce("underlying_symbol", "symbol"))
        .otherwise(pl.col("symbol")).alias("symbol"),
        pl.col("asset_category").alias("sec_type"),
        # BUY/SELL; anything else is null and quarantined by the spec, as a Web API side would be.
        pl.col("buy_sell").str.strip_chars().str.to_uppercase().replace_strict(SIDES, default=None).alias("side"),
        pl.col("quantity").abs().alias("quantity"),
        "price",
        (-pl.col("commission")).alias("commission"),
        pl.col("trade_money").abs().alias("net_amount"),
        "trade_time",
        "exchange",
        "listing_exchange",
        "order_id",
        pl.col("order_reference").alias("order_ref"),
        pl.lit(None, pl.String).alias("order_description"),
        pl.col("description").alias("company_name"),
        pl.lit(None, pl.String).alias("contract_description"),
        pl.lit(None, pl.String).alias("submitter"),
        pl.lit(None, pl.String).alias("clearing_id"),
        pl.lit(None, pl.Boolean).alias("liquidation_trade"),
        pl.concat_str(pl.lit("{" + FLEX_MARK + ': "'), pl.col("row_key"), pl.lit('", "flex_element": "'),
                      pl.col("element"), pl.lit('"}')).alias("raw_extra"),
    ).filter(pl.col("trade_date").is_between(window.start, window.end) | pl.col("trade_date").is_null())
    return rows.select([pl.col(name).cast(dtype) for name, dtype in polars_schema("executions").items()])
