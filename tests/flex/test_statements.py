"""Trades with cancellations and corrections, summaries kept apart, positions, NAV and rates; any number
of statements and accounts (FA master, closed accounts); empty sections."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from ibkr_pipelines.flex import parse_flex, read_flex
from ibkr_pipelines.schemas.flex_tables import FLEX_SPECS
from tests.flex.flexxml import response, row, section, statement


def rows_only(other: pl.DataFrame) -> pl.DataFrame:
    """Other rows without the statements' own rows."""
    return other.filter(pl.col("section") != "FlexStatement")


def trade(**attributes: str) -> str:
    """An Activity Trade line in KO (of U1 on 2025-05-05 unless the caller says otherwise)."""
    defaults = dict(accountId="U1", currency="USD", assetCategory="STK", symbol="KO", conid="8894",
                    reportDate="20250505", tradeDate="20250505")
    return row("Trade", **{**defaults, **attributes})


TRADES = section(
    "Trades",
    trade(transactionType="ExchTrade", tradeID="100", transactionID="10", ibExecID="0001.01", buySell="BUY",
          quantity="10", tradePrice="65", dateTime="20250505;093001", notes="O", levelOfDetail="EXECUTION"),
    trade(transactionType="TradeCancel", tradeID="", transactionID="11", ibExecID="", buySell="BUY (Ca.)",
          quantity="-10", tradePrice="65", dateTime="20250505;093001", notes="Ca", origTradeID="100",
          origTransactionID="10", origTradePrice="65", origTradeDate="20250505", levelOfDetail="EXECUTION"),
    trade(transactionType="ExchTrade", tradeID="101", transactionID="12", ibExecID="0001.02", buySell="BUY",
          quantity="10", tradePrice="64.9", dateTime="20250505;093001", notes="O", levelOfDetail="EXECUTION"),
    row("SymbolSummary", accountId="U1", symbol="KO", quantity="10", levelOfDetail="SYMBOL_SUMMARY",
        reportDate="20250505"),
    row("AssetSummary", accountId="U1", assetCategory="STK", quantity="10", levelOfDetail="ASSET_SUMMARY"),
    row("Order", accountId="U1", symbol="KO", quantity="10", ibOrderID="7", levelOfDetail="ORDER"),
    trade(transactionType="", quantity="10", levelOfDetail="ORDER"),  # an older layout's order line
    row("Lot", accountId="U1", symbol="KO", quantity="5", levelOfDetail="CLOSED_LOT", transactionID="10"),
)


def test_cancellations_and_corrections_are_kept_apart_from_summaries() -> None:
    frames = read_flex(response(statement("U1", "20250505", "20250505", TRADES)))
    trades, other = frames["flex_trades"], rows_only(frames["flex_other_rows"])
    assert trades.select("row_key", "transaction_type", "trade_id", "notes", "orig_trade_id", "quantity").rows() == [
        ("txn:10", "ExchTrade", "100", "O", None, 10.0),
        ("txn:11", "TradeCancel", None, "Ca", "100", -10.0),
        ("txn:12", "ExchTrade", "101", "O", None, 10.0),
    ]
    assert trades["buy_sell"][1] == "BUY (Ca.)" and trades["orig_transaction_id"][1] == "10"
    assert trades["trade_time"][0] == dt.datetime(2025, 5, 5, 13, 30, 1, tzinfo=dt.timezone.utc)
    assert other.select("section", "element", "level_of_detail").rows() == [
        ("Trades", "SymbolSummary", "SYMBOL_SUMMARY"), ("Trades", "AssetSummary", "ASSET_SUMMARY"),
        ("Trades", "Order", "ORDER"), ("Trades", "Trade", "ORDER"), ("Trades", "Lot", "CLOSED_LOT")]
    assert json.loads(other["attributes"][4]) == {"accountId": "U1", "symbol": "KO", "quantity": "5",
                                                  "levelOfDetail": "CLOSED_LOT", "transactionID": "10"}


def test_positions_keep_cost_basis_and_lots_go_to_other_rows() -> None:
    positions = section(
        "OpenPositions",
        row("OpenPosition", accountId="U1", currency="USD", symbol="KO", conid="8894", reportDate="20250505",
            position="10", markPrice="66", positionValue="660", costBasisPrice="64.9", costBasisMoney="649",
            fifoPnlUnrealized="11", side="Long", levelOfDetail="SUMMARY", openDateTime=""),
        row("OpenPosition", accountId="U1", currency="USD", symbol="KO", conid="8894", reportDate="20250505",
            position="10", costBasisMoney="649", levelOfDetail="LOT", openDateTime="20250505;093001"),
    )
    frames = read_flex(response(statement("U1", "20250505", "20250505", positions)))
    got = frames["flex_open_positions"].row(0, named=True)
    assert frames["flex_open_positions"].height == 1
    assert rows_only(frames["flex_other_rows"])["element"].to_list() == ["OpenPosition"]
    assert (got["row_key"], got["position"], got["cost_basis_money"], got["cost_basis_price"]) == (
        "conid:8894", 10.0, 649.0, 64.9)
    assert got["open_time"] is None and got["unparsed"] is None


def test_nav_from_equity_summaries_and_change_in_nav() -> None:
    nav = (
        section("EquitySummaryInBase",
                row("EquitySummaryByReportDateInBase", accountId="U1", currency="EUR", reportDate="20250430",
                    cash="100", stock="900", total="1000"),
                row("EquitySummaryByReportDateInBase", accountId="U1", currency="EUR", reportDate="20250501",
                    cash="100", stock="910", total="1010")),
        row("ChangeInNAV", accountId="U1", currency="EUR", fromDate="20250430", toDate="20250501",
            startingValue="1000", mtm="10", endingValue="1010", twr="1"),
    )
    got = read_flex(response(statement("U1", "20250430", "20250501", *nav)))["flex_nav"]
    assert got.select("report_date", "element", "from_date", "nav", "starting_value").rows() == [
        (dt.date(2025, 4, 30), "EquitySummaryByReportDateInBase", dt.date(2025, 4, 30), 1000.0, None),
        (dt.date(2025, 5, 1), "EquitySummaryByReportDateInBase", dt.date(2025, 5, 1), 1010.0, None),
        (dt.date(2025, 5, 1), "ChangeInNAV", dt.date(2025, 4, 30), 1010.0, 1000.0),
    ]


def test_fa_master_closed_accounts_and_empty_sections_in_a_multi_year_report() -> None:
    rates = section("ConversionRates", row("ConversionRate", reportDate="20230103", fromCurrency="EUR",
                                           toCurrency="USD", rate="1.06"))
    master = statement("F1", "20220101", "20251231",
                       section("CashTransactions",
                               row("CashTransaction", accountId="U2", currency="USD", type="Advisor Fees",
                                   amount="-5", reportDate="20230103", transactionID="21"),
                               row("CashTransaction", accountId="U3", currency="USD", type="Advisor Fees",
                                   amount="-7", reportDate="20230103", transactionID="22")),
                       rates)
    closed = statement("U3", "20220101", "20251231",
                       row("AccountInformation", accountId="U3", dateClosed="20230630", currency="USD"),
                       section("Trades", trade(accountId="U3", reportDate="20220301", transactionID="30",
                                               quantity="1", tradePrice="1")),
                       section("OpenPositions"), "<CashTransactions/>", rates)
    empty = statement("U4", "20220101", "20251231")
    frames = read_flex(response(master, closed, empty))
    assert frames["flex_cash_transactions"]["account_id"].to_list() == ["U2", "U3"]  # the row's account
    assert frames["flex_trades"].select("account_id", "report_date").rows() == [("U3", dt.date(2022, 3, 1))]
    assert frames["flex_conversion_rates"].height == 1  # every account's statement repeats the rate
    info = rows_only(frames["flex_other_rows"]).row(0, named=True)
    assert (info["section"], info["element"], info["account_id"]) == ("AccountInformation",) * 2 + ("U3",)
    assert info["report_date"] == dt.date(2025, 12, 31)  # no reportDate: its statement's toDate
    statements = frames["flex_other_rows"].filter(pl.col("element") == "FlexStatement")
    assert statements["account_id"].to_list() == ["F1", "U3", "U4"]  # the empty statement is seen too
    assert frames["flex_open_positions"].is_empty() and frames["flex_nav"].is_empty()


def test_no_statements_and_empty_sections_give_empty_frames_of_the_right_layout() -> None:
    for text in (response(), response(statement("U1", "20250101", "20250101", section("Trades"),
                                                "<CashTransactions></CashTransactions>"))):
        frames = read_flex(text)
        frames["flex_other_rows"] = rows_only(frames["flex_other_rows"])
        assert all(frame.is_empty() for frame in frames.values())
        assert {name: frame.schema for name, frame in frames.items()} == {
            name: pl.Schema(spec.polars_schema()) for name, spec in FLEX_SPECS.items()}


def test_chunks_are_bounded_and_shaped_like_their_table() -> None:
    rows = [row("CashTransaction", accountId="U1", amount=str(n), reportDate="20250101", transactionID=str(n))
            for n in range(5)]
    text = response(statement("U1", "20250101", "20250101", section("CashTransactions", *rows)))
    chunks = [c for c in parse_flex(text, chunk_rows=2) if c.table == "flex_cash_transactions"]
    assert [c.frame.height for c in chunks] == [2, 2, 1]
    assert all(c.frame.schema == pl.Schema(FLEX_SPECS[c.table].polars_schema()) for c in chunks)
