"""Cash quirks other Flex importers trip on: late withholding-tax adjustments, dividends split with a
payment in lieu, transfers between the user's own accounts; re-imports are idempotent."""

from __future__ import annotations

import datetime as dt

import polars as pl

from ibkr_pipelines.flex import read_flex
from tests.flex.flexxml import response, row, section, statement


def cash(**attributes: str) -> str:
    """A CashTransaction of account U1 in USD on KO, with the caller's attributes."""
    return row("CashTransaction", accountId="U1", currency="USD", symbol="KO", conid="8894", **attributes)


DIVIDEND_DAY = statement("U1", "20250314", "20250314", section(
    "CashTransactions",
    cash(type="Dividends", amount="100", dateTime="20250314;202000", reportDate="20250314", transactionID="1",
         actionID="555", description="KO CASH DIVIDEND USD 0.51 PER SHARE (Ordinary Dividend)"),
    cash(type="Withholding Tax", amount="-15", dateTime="20250314;202000", reportDate="20250314",
         transactionID="2", actionID="555", description="KO CASH DIVIDEND USD 0.51 PER SHARE - US TAX"),
))
# three months later IBKR reverses the tax and charges a lower one, dated back to the dividend
LATE_ROWS = (
    cash(type="Withholding Tax", amount="15", dateTime="20250314;202000", reportDate="20250610",
         transactionID="3", actionID="555", description="KO CASH DIVIDEND USD 0.51 PER SHARE - US TAX"),
    cash(type="Withholding Tax", amount="-10", dateTime="20250314;202000", reportDate="20250610",
         transactionID="4", actionID="555", description="KO CASH DIVIDEND USD 0.51 PER SHARE - US TAX"),
)
LATE_DAY = statement("U1", "20250610", "20250610", section("CashTransactions", *LATE_ROWS))


def without_ids(text: bytes) -> bytes:
    """The same file from a query that leaves transactionID out."""
    for n in range(1, 10):
        text = text.replace(f' transactionID="{n}"'.encode(), b"")
    return text


def test_late_withholding_adjustments_keep_both_dates_and_every_row() -> None:
    got = read_flex(response(DIVIDEND_DAY, LATE_DAY))["flex_cash_transactions"].sort("row_key")
    assert got["row_key"].to_list() == ["txn:1", "txn:2", "txn:3", "txn:4"]
    late = got.filter(pl.col("report_date") == dt.date(2025, 6, 10))
    assert late["event_date"].to_list() == [dt.date(2025, 3, 14)] * 2  # the old dateTime is kept
    assert late["category"].to_list() == ["withholding_tax"] * 2
    assert got.filter(pl.col("category") == "withholding_tax")["amount"].sum() == -10


def test_late_adjustments_stay_distinct_and_stable_without_transaction_ids() -> None:
    text = without_ids(response(DIVIDEND_DAY, LATE_DAY))
    first, again = read_flex(text)["flex_cash_transactions"], read_flex(text)["flex_cash_transactions"]
    assert first["row_key"].n_unique() == 4 and all(k.startswith("sha:") for k in first["row_key"])
    assert first.equals(again)  # a re-import gives the same keys and rows: the upsert changes nothing
    # the same row in a daily statement and in a year's statement keys the same (no statement in the key)
    year = without_ids(response(statement("U1", "20250101", "20251231", section("CashTransactions", *LATE_ROWS))))
    keys_in_year = set(read_flex(year)["flex_cash_transactions"]["row_key"])
    assert keys_in_year == set(first.filter(pl.col("report_date") == dt.date(2025, 6, 10))["row_key"])


def test_identical_rows_without_ids_are_both_kept() -> None:
    fee = cash(type="Other Fees", amount="-1.5", dateTime="20250301", reportDate="20250301",
               description="MARKET DATA FEE")
    got = read_flex(response(statement("U1", "20250301", "20250301", section("CashTransactions", fee, fee))))
    keys = got["flex_cash_transactions"]["row_key"].to_list()
    assert len(set(keys)) == 2 and keys[1] == keys[0] + "#2"


def test_a_dividend_split_into_an_ordinary_part_and_a_payment_in_lieu() -> None:
    day = statement("U1", "20250314", "20250314", section(
        "CashTransactions",
        cash(type="Dividends", amount="80", dateTime="20250314", reportDate="20250314", transactionID="1",
             actionID="555"),
        cash(type="Payment In Lieu Of Dividends", amount="20", dateTime="20250314", reportDate="20250314",
             transactionID="2", actionID="555"),
        cash(type="Withholding Tax", amount="-12", dateTime="20250314", reportDate="20250314", transactionID="3",
             actionID="555"),
    ))
    got = read_flex(response(day))["flex_cash_transactions"]
    assert got["category"].to_list() == ["dividend", "payment_in_lieu", "withholding_tax"]
    assert got["action_id"].unique().to_list() == ["555"]  # one corporate action ties the three together
    assert got.filter(pl.col("category").is_in(["dividend", "payment_in_lieu"]))["amount"].sum() == 100


def test_fees_interest_and_deposits_get_their_categories() -> None:
    types = {"Advisor Fees": "advisor_fee", "Other Fees": "fee", "Broker Interest Paid": "interest",
             "Bond Interest Received": "interest", "Deposits & Withdrawals": "deposit_withdrawal",
             "Deposits/Withdrawals": "deposit_withdrawal", "Commission Adjustments": "commission_adjustment",
             "Something New": "other"}
    rows = [cash(type=t, amount="1", reportDate="20250301", transactionID=str(n)) for n, t in enumerate(types)]
    got = read_flex(response(statement("U1", "20250301", "20250301", section("CashTransactions", *rows))))
    assert dict(zip(got["flex_cash_transactions"]["type"], got["flex_cash_transactions"]["category"])) == types


def test_a_transfer_between_own_accounts_keeps_both_sides() -> None:
    def side(account: str, other: str, direction: str, quantity: str) -> str:
        return statement(account, "20250402", "20250402", section("Transfers", row(
            "Transfer", accountId=account, currency="USD", symbol="KO", conid="8894", type="INTERNAL",
            direction=direction, account=other, quantity=quantity, positionAmount="650", reportDate="20250402",
            date="20250402", dateTime="20250402;120000", transactionID="900",  # one id for both sides
        )))
    got = read_flex(response(side("U1", "U2", "OUT", "-10"), side("U2", "U1", "IN", "10")))["flex_transfers"]
    assert got.select("account_id", "counterparty_account", "direction", "quantity").rows() == [
        ("U1", "U2", "OUT", -10.0), ("U2", "U1", "IN", 10.0)]
    assert got.select("account_id", "row_key").is_unique().all()
    assert got["event_time"].to_list() == [dt.datetime(2025, 4, 2, 16, tzinfo=dt.timezone.utc)] * 2
