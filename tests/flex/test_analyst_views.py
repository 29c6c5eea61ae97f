"""The Flex analyst views (dividends_and_withholding, fees_and_interest, realized_pnl_by_year) against sums done
by hand from a small hand-written account: a EUR-based account U1 with USD and CHF dividends, a late
withholding-tax adjustment across a year end, a dividend split with a payment in lieu, fees and interest in two
months, executions reported both in Activity statements and Trade Confirmations, and a cancelled, rebooked trade.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ibkr_pipelines.land.warehouse import Warehouse
from tests.flex.flexland import land_flex
from tests.flex.flexxml import response, row, section, statement


def cash(day: str, txn: str, type_: str, amount: str, fx: str, *, currency: str = "USD", event: str = "",
         **more: str) -> str:
    """A DETAIL CashTransaction of U1 reported on ``day`` (its event on ``event``, else the same day)."""
    return row("CashTransaction", accountId="U1", currency=currency, fxRateToBase=fx, type=type_, amount=amount,
               dateTime=event or day, reportDate=day, transactionID=txn, levelOfDetail="DETAIL", **more)


def ko(day: str, txn: str, type_: str, amount: str, fx: str, **more: str) -> str:
    """A line of KO's December 2024 dividend (event 2024-12-16), whenever it is reported."""
    return cash(day, txn, type_, amount, fx, event="20241216;202000", symbol="KO", conid="8894",
                assetCategory="STK", actionID="7001", **more)


def activity(day: str, *sections: str) -> str:
    """U1's Activity statement of one day."""
    return statement("U1", day, day, *sections)


def trade(**attributes: str) -> str:
    """An Activity Trade execution line of U1 (USD stock unless said)."""
    base = dict(accountId="U1", currency="USD", assetCategory="STK", levelOfDetail="EXECUTION",
                transactionType="ExchTrade")
    return row("Trade", **{**base, **attributes})


def confirm(**attributes: str) -> str:
    """A Trade Confirmation execution line of U1: no fxRateToBase, no fifoPnlRealized (recording)."""
    base = dict(accountId="U1", currency="USD", assetCategory="STK", levelOfDetail="EXECUTION",
                transactionType="ExchTrade")
    return row("TradeConfirm", **{**base, **attributes})


AAPL = dict(symbol="AAPL", conid="265598")
SAP = dict(currency="EUR", symbol="SAP", conid="14204", fxRateToBase="1", ibCommissionCurrency="EUR")
SAP_TCF = dict(currency="EUR", symbol="SAP", conid="14204", commissionCurrency="EUR")

ACTIVITY = response(
    activity("20241216", section(
        "CashTransactions",
        ko("20241216", "1", "Dividends", "100", "0.95"),
        ko("20241216", "2", "Withholding Tax", "-30", "0.95"),  # withheld at 30% instead of the treaty's 15%
        # the day's summary line repeats the detail: it must not count twice
        row("CashTransaction", accountId="U1", currency="USD", fxRateToBase="0.95", type="Dividends", amount="100",
            reportDate="20241216", symbol="KO", conid="8894", levelOfDetail="SUMMARY"),
    )),
    activity("20241220", section("Trades", trade(
        symbol="KO 250117C00060000", conid="5001", assetCategory="OPT", multiplier="100", fxRateToBase="0.96",
        tradeDate="20241220", reportDate="20241220", dateTime="20241220;150000", transactionID="101",
        tradeID="2001", ibExecID="X1", buySell="SELL", quantity="-2", tradePrice="1.5", ibCommission="-1.3",
        ibCommissionCurrency="USD", fifoPnlRealized="120", openCloseIndicator="C"))),
    # a month later IBKR refunds the December tax and withholds 15%, both dated back to the dividend
    activity("20250115",
             section("CashTransactions", ko("20250115", "3", "Withholding Tax", "30", "0.97"),
                     ko("20250115", "4", "Withholding Tax", "-15", "0.97")),
             section("Trades", trade(
                 **AAPL, fxRateToBase="0.97", tradeDate="20250115", reportDate="20250115",
                 dateTime="20250115;100000", transactionID="102", tradeID="2002", ibExecID="X2", buySell="BUY",
                 quantity="10", tradePrice="200", ibCommission="-1", ibCommissionCurrency="USD",
                 fifoPnlRealized="0", openCloseIndicator="O"))),
    activity("20250203", section(
        "CashTransactions",
        cash("20250203", "5", "Broker Interest Received", "12.5", "0.96", description="USD CREDIT INT FOR JAN-2025"),
        cash("20250203", "6", "Other Fees", "-10", "0.96", description="MARKET DATA"),
    )),
    activity("20250210", section("Trades", trade(
        **AAPL, fxRateToBase="0.96", tradeDate="20250210", reportDate="20250210", dateTime="20250210;100000",
        transactionID="103", tradeID="2003", ibExecID="X3", buySell="SELL", quantity="-10", tradePrice="220",
        ibCommission="-1", ibCommissionCurrency="USD", fifoPnlRealized="198", openCloseIndicator="C"))),
    activity("20250228", section("CashTransactions",
                                 cash("20250228", "7", "Advisor Fees", "-50", "1", currency="EUR"))),
    activity("20250303",
             section("CashTransactions", cash("20250303", "8", "Broker Interest Paid", "-7.25", "1", currency="EUR")),
             section("Trades", trade(
                 **SAP, tradeDate="20250303", reportDate="20250303", dateTime="20250303;100000", transactionID="104",
                 tradeID="2004", ibExecID="X4", buySell="SELL", quantity="-5", tradePrice="180", ibCommission="-1.5",
                 fifoPnlRealized="50", openCloseIndicator="C"))),
    # the next day IBKR cancels that sale and rebooks it at 181, under the same tradeID; the cancellation
    # line reverses the quantity but (as IBKR does on some lines) writes 0 realized P&L
    activity("20250304", section(
        "Trades",
        trade(**SAP, tradeDate="20250303", reportDate="20250304", dateTime="20250303;100000", transactionID="105",
              tradeID="", ibExecID="", transactionType="TradeCancel", buySell="SELL (Ca.)", quantity="5",
              tradePrice="180", ibCommission="0", fifoPnlRealized="0", notes="Ca", origTradeID="2004",
              origTransactionID="104", origTradeDate="20250303", origTradePrice="180"),
        trade(**SAP, tradeDate="20250303", reportDate="20250304", dateTime="20250303;100000", transactionID="106",
              tradeID="2004", ibExecID="X5", buySell="SELL", quantity="-5", tradePrice="181", ibCommission="0",
              fifoPnlRealized="55", openCloseIndicator="C"),
    )),
    activity("20250313", section(
        "CashTransactions",  # 100 USD paid as 80 of ordinary dividend and 20 in lieu (shares on loan)
        cash("20250313", "9", "Dividends", "80", "0.92", symbol="MSFT", conid="272093", actionID="7002"),
        cash("20250313", "10", "Payment In Lieu Of Dividends", "20", "0.92", symbol="MSFT", conid="272093",
             actionID="7002"),
        cash("20250313", "11", "Withholding Tax", "-15", "0.92", symbol="MSFT", conid="272093", actionID="7002"),
        cash("20250313", "12", "Other Fees", "-10", "0.92", description="MARKET DATA"),
    )),
    activity("20250320", section(
        "CashTransactions",
        cash("20250320", "13", "Other Fees", "4", "0.93", description="MARKET DATA REFUND"),
        cash("20250320", "14", "Broker Fees", "-2", "0.93"),
    )),
    activity("20250425", section(
        "CashTransactions",
        cash("20250425", "15", "Dividends", "300", "1.06", currency="CHF", symbol="NESN", conid="3205507"),
        cash("20250425", "16", "Withholding Tax", "-105", "1.06", currency="CHF", symbol="NESN", conid="3205507"),
    )),
    activity("20250428", section(
        "CashTransactions",
        cash("20250428", "17", "Dividends", "40", "1", currency="EUR", symbol="SAP", conid="14204"),
        cash("20250428", "18", "Withholding Tax", "-10.55", "1", currency="EUR", symbol="SAP", conid="14204"),
    )),
)


def tcf(day: str, *rows: str) -> str:
    """U1's Trade Confirmation statement of one day."""
    return statement("U1", day, day, section("TradeConfirms", *rows))


CONFIRMATIONS = response(
    tcf("20250115", confirm(**AAPL, tradeDate="20250115", reportDate="20250115", tradeID="2002", execID="X2",
                            buySell="BUY", quantity="10", price="200", commission="-1", commissionCurrency="USD")),
    tcf("20250210", confirm(**AAPL, tradeDate="20250210", reportDate="20250210", tradeID="2003", execID="X3",
                            buySell="SELL", quantity="10", price="220", commission="-1", commissionCurrency="USD")),
    tcf("20250303", confirm(**SAP_TCF, tradeDate="20250303", reportDate="20250303", tradeID="2004", execID="X4",
                            buySell="SELL", quantity="5", price="180", commission="-1.5")),
    tcf("20250304", confirm(**SAP_TCF, tradeDate="20250303", reportDate="20250304", tradeID="", execID="",
                            transactionType="TradeCancel", buySell="SELL (Ca.)", quantity="5", price="180",
                            commission="0", code="Ca", origTradeID="2004")),
    # an execution only a Trade Confirmation reported: counted, but it has no rate to base
    tcf("20250610", confirm(**SAP_TCF, tradeDate="20250610", reportDate="20250610", tradeID="2005", execID="X6",
                            buySell="BUY", quantity="1", price="190", commission="-1.25")),
    kind="TCF",
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """U1's statements and confirmations landed through the parser, validation, the lake and the warehouse."""
    return land_flex(tmp_path_factory.mktemp("flex-views"), ACTIVITY, CONFIRMATIONS, today=dt.date(2025, 7, 1))


def rows_of(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    """The query's rows as dicts."""
    columns, rows = warehouse.query_readonly(sql)
    return [dict(zip(columns, r)) for r in rows]


def approx(expected: dict[str, Any]) -> dict[str, Any]:
    """The row with its floats compared within 1e-6."""
    return {k: pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for k, v in expected.items()}


def test_dividends_count_late_tax_in_the_dividends_year_and_in_lieu_payments_as_dividends(warehouse: Warehouse) -> None:
    got = rows_of(warehouse, "SELECT * FROM dividends_and_withholding ORDER BY year, symbol")
    assert [(r["symbol"], r["year"]) for r in got] == [("KO", 2024), ("MSFT", 2025), ("NESN", 2025), ("SAP", 2025)]
    ko_, msft, nesn, sap = got
    # KO: 100 gross; tax -30 in December, +30 and -15 reported in January, dated back: 2024's tax is -15.
    assert ko_ == approx(dict(
        ko_, conid=8894, currency="USD", ordinary_dividends=100.0, payments_in_lieu=0.0, gross_dividends=100.0,
        withholding_tax=-30.0 + 30.0 - 15.0, net_dividends=100.0 - 15.0, ordinary_dividends_base=100 * 0.95,
        gross_dividends_base=100 * 0.95, withholding_tax_base=-30 * 0.95 + 30 * 0.97 - 15 * 0.97,
        net_dividends_base=100 * 0.95 - 30 * 0.95 + 30 * 0.97 - 15 * 0.97, lines=4, lines_without_rate=0,
        last_report_date=dt.date(2025, 1, 15)))
    # MSFT: a dividend split into 80 ordinary and 20 in lieu counts 100.
    assert msft == approx(dict(
        msft, currency="USD", ordinary_dividends=80.0, payments_in_lieu=20.0, gross_dividends=100.0,
        withholding_tax=-15.0, net_dividends=85.0, payments_in_lieu_base=20 * 0.92, gross_dividends_base=100 * 0.92,
        withholding_tax_base=-15 * 0.92, net_dividends_base=85 * 0.92, lines=3))
    # NESN pays in CHF, neither USD nor the account's EUR base.
    assert nesn == approx(dict(nesn, currency="CHF", gross_dividends=300.0, withholding_tax=-105.0,
                               net_dividends=195.0, gross_dividends_base=300 * 1.06, net_dividends_base=195 * 1.06))
    assert sap == approx(dict(sap, currency="EUR", gross_dividends=40.0, net_dividends=40 - 10.55,
                              net_dividends_base=40 - 10.55))


def test_fees_and_interest_by_month_and_kind(warehouse: Warehouse) -> None:
    got = rows_of(warehouse, "SELECT month, kind, currency, amount, amount_base, lines FROM fees_and_interest "
                             "ORDER BY month, kind, currency")
    feb, mar = dt.date(2025, 2, 1), dt.date(2025, 3, 1)
    assert got == [approx(r) for r in (
        dict(month=feb, kind="advisor_fee", currency="EUR", amount=-50.0, amount_base=-50.0, lines=1),
        dict(month=feb, kind="interest_received", currency="USD", amount=12.5, amount_base=12.5 * 0.96, lines=1),
        dict(month=feb, kind="other_fees", currency="USD", amount=-10.0, amount_base=-10 * 0.96, lines=1),
        dict(month=mar, kind="fee", currency="USD", amount=-2.0, amount_base=-2 * 0.93, lines=1),
        dict(month=mar, kind="interest_paid", currency="EUR", amount=-7.25, amount_base=-7.25, lines=1),
        # a market-data fee and its partial refund net out
        dict(month=mar, kind="other_fees", currency="USD", amount=-10.0 + 4.0, amount_base=-10 * 0.92 + 4 * 0.93,
             lines=2),
    )]
    assert {r[0] for r in warehouse.query_readonly("SELECT DISTINCT year FROM fees_and_interest")[1]} == {2025}


def test_realized_pnl_counts_each_execution_once_and_drops_cancelled_trades(warehouse: Warehouse) -> None:
    got = rows_of(warehouse, "SELECT * FROM realized_pnl_by_year ORDER BY year, asset_category, currency")
    assert [(r["year"], r["asset_category"], r["currency"]) for r in got] == [
        (2024, "OPT", "USD"), (2025, "STK", "EUR"), (2025, "STK", "USD")]
    option, sap, aapl = got
    assert option == approx(dict(option, account_id="U1", executions=1, cancellations=0, realized_pnl=120.0,
                                 realized_pnl_base=120 * 0.96, commission=-1.3, commission_base=-1.3 * 0.96,
                                 lines_without_rate=0))
    # AAPL: two executions, each also in a Trade Confirmation (which must not add its commission again).
    assert aapl == approx(dict(aapl, executions=2, cancellations=0, realized_pnl=198.0, realized_pnl_base=198 * 0.96,
                               commission=-2.0, commission_base=-0.97 - 0.96, lines_without_rate=0))
    # SAP: the sale at 180 (P&L 50) was cancelled and rebooked at 181 (P&L 55): only 55 stands, whatever the
    # cancellation line says; its commission (1.5, left on the original) was charged; the confirmation-only
    # buy adds an execution and 1.25 of commission, but has no rate to base.
    assert sap == approx(dict(sap, executions=2, cancellations=1, realized_pnl=55.0, realized_pnl_base=55.0,
                              commission=-1.5 - 1.25, commission_base=-1.5, lines_without_rate=1))
