"""Columns and rules every Flex table shares: statement context, row identity, kept attributes.

A Flex statement (``FlexStatement``) covers one account and a period (``fromDate``..``toDate``);
every row keeps that context. Rows are dated by IBKR's ``reportDate`` (the statement date that
reported them), which is also the lake partition: a row reported late (a withholding-tax
adjustment with an old ``dateTime``) lands in the partition of the statement that brought it, so
re-fetching an old date never rewrites that date's lake file with only the late rows.

Values the parser could not read (a date or number in a layout it does not know) are null in
their column and kept, as sent, in ``unparsed``; the ``values_parsed`` check quarantines such a row
(the quarantine keeps the whole row, raw value included) instead of landing a wrong or empty value.
"""

from __future__ import annotations

import polars as pl

from typing import Any

from ibkr_pipelines.schemas.spec import (
    BIGINT,
    DATE,
    FLOAT,
    TEXT,
    TIMESTAMP,
    Column,
    FrameCheck,
    LoadStrategy,
    Reach,
    TableSpec,
    col,
)

FLEX_SOURCE = "Flex Web Service (SendRequest/GetStatement v3) or a Flex XML file saved from the portal"

REPORT_DATE = col(
    "report_date", DATE, "IBKR's reportDate: the statement date that reported the row (else the statement's "
    "toDate when the query leaves the attribute out). A late adjustment keeps its old event date elsewhere.",
    nullable=False,
)
ACCOUNT_ID = col("account_id", TEXT, "IBKR account id of the row (accountId, else its statement's accountId).",
                 nullable=False)
ROW_KEY = col(
    "row_key", TEXT, "The row's identity within its account (see the table's description): IBKR's id with a "
    "prefix, e.g. 'txn:9718549852', else 'sha:' + a hash of the row's modelled attributes and its rank among "
    "identical rows of its statement.", nullable=False,
)
STATEMENT_COLUMNS: tuple[Column, ...] = (
    col("statement_from_date", DATE, "First date of the statement that delivered the row (fromDate)."),
    col("statement_to_date", DATE, "Last date of the statement that delivered the row (toDate)."),
    col("generated_at", TIMESTAMP, "When IBKR generated that statement, UTC (whenGenerated; without a zone, "
        "New York time)."),
)
FLEX_EXTRA = col(
    "raw_extra", TEXT, "Non-empty Flex attributes this table has no column for, as JSON {attribute: value as "
    "sent} (kept, not lost; IBKR keeps adding attributes).",
)
UNPARSED = col(
    "unparsed", TEXT, "Attributes whose value did not convert (a date, number or id the parser cannot read), as "
    "JSON {attribute: value as sent}; null when every value converted. Such rows are quarantined.",
)
LEVEL_OF_DETAIL = col("level_of_detail", TEXT, "IBKR's levelOfDetail, e.g. DETAIL, EXECUTION, SUMMARY.")

VALUES_PARSED = FrameCheck(
    "values_parsed",
    "Every attribute the row models converted; a row with an unreadable value is quarantined with the raw "
    "value (column unparsed) rather than landed with a null or a guess.",
    lambda frame: frame.select(pl.col("unparsed").is_null()),
)


def contract_columns() -> tuple[Column, ...]:
    """The instrument columns Flex rows share (Trade, OpenPosition, CashTransaction, Transfer, CorporateAction)."""
    return (
        col("currency", TEXT, "Currency of the row's amounts (currency)."),
        col("fx_rate_to_base", FLOAT, "Units of the account's base currency per unit of currency (fxRateToBase)."),
        col("asset_category", TEXT, "Asset class (assetCategory), e.g. STK, OPT, FUT, CASH, BOND."),
        col("sub_category", TEXT, "Sub class (subCategory), e.g. COMMON, ETF, ADR."),
        col("symbol", TEXT, "Symbol (symbol)."),
        col("description", TEXT, "IBKR's description of the instrument or event (description)."),
        col("conid", BIGINT, "IBKR contract id (conid)."),
        col("isin", TEXT, "ISIN (isin)."),
        col("cusip", TEXT, "CUSIP (cusip)."),
        col("listing_exchange", TEXT, "Primary listing exchange (listingExchange)."),
        col("underlying_conid", BIGINT, "Contract id of the underlying (underlyingConid)."),
        col("underlying_symbol", TEXT, "Symbol of the underlying (underlyingSymbol)."),
        col("multiplier", FLOAT, "Contract multiplier (multiplier)."),
        col("strike", FLOAT, "Option strike (strike)."),
        col("expiry", DATE, "Expiry of a derivative (expiry)."),
        col("put_call", TEXT, "P or C for options (putCall)."),
    )


def flex_trailer() -> tuple[Column, ...]:
    """The columns every modelled Flex table ends with: statement context, kept attributes, unreadable values."""
    return (*STATEMENT_COLUMNS, FLEX_EXTRA, UNPARSED)


def flex_table(*, slice_column: str | None = "account_id", frame_checks: tuple[FrameCheck, ...] = (VALUES_PARSED,),
               **spec: Any) -> TableSpec:
    """A Flex table: upserted on its natural key, dated by report_date, sliced by account, a settled reach."""
    return TableSpec(load=LoadStrategy.UPSERT, partition_column="report_date", slice_column=slice_column,
                     reach=Reach.SETTLED, frame_checks=frame_checks, **spec)
