"""Nothing IBKR adds breaks a parse or is lost; an unreadable value is kept raw and quarantined, never guessed."""

from __future__ import annotations

import json

import polars as pl
import pytest

from ibkr_pipelines.flex import FlexFileError, read_flex
from ibkr_pipelines.flex.mappings import MAPPINGS
from ibkr_pipelines.land.validate import split_valid
from ibkr_pipelines.schemas import registry
from ibkr_pipelines.schemas.flex_tables import FLEX_TABLES
from ibkr_pipelines.sources import SOURCES
from tests.flex.flexxml import response, row, section, statement

# Columns the parser fills from the row's context rather than from one attribute.
COMPUTED = {"row_key", "element", "category", "statement_from_date", "statement_to_date", "generated_at",
            "raw_extra", "unparsed"}


def cash_statement(**attributes: str) -> bytes:
    """One statement of U1 with one cash transaction carrying the caller's attributes."""
    fields = dict(accountId="U1", currency="USD", type="Dividends", amount="10", reportDate="20250301",
                  dateTime="20250301", transactionID="1")
    return response(statement("U1", "20250301", "20250301", section("CashTransactions", row(
        "CashTransaction", **{**fields, **attributes}))))


@pytest.fixture
def flex_registered() -> None:
    """The Flex tables are in the registry (the ``flex`` source feeds them), so the loader's validation applies."""
    assert all(registry.TABLES.get(spec.name) is spec for spec in FLEX_TABLES)


def test_unknown_attributes_are_kept_per_row() -> None:
    got = read_flex(cash_statement(endingCashIBUKL="5", serialNumber="", brandNew="x"))["flex_cash_transactions"]
    assert json.loads(got["raw_extra"][0]) == {"endingCashIBUKL": "5", "brandNew": "x"}  # empty ones carry nothing
    assert got["unparsed"][0] is None


def test_unknown_and_nested_sections_land_in_other_rows_with_every_attribute() -> None:
    text = response(statement(
        "U1", "20250301", "20250301",
        section("MutualFundDividendDetails", row("MutualFundDividendDetail", accountId="U1", amount="3", a="")),
        "<FxPositions><FxLots><FxLot accountId=\"U1\" functionalCurrency=\"EUR\" quantity=\"2\"/></FxLots>"
        "</FxPositions>",
        row("ChangeInPositionValues", accountId="U1", other="1"),
    ))
    other = read_flex(text)["flex_other_rows"]
    assert other.select("section", "element", "row_key").rows() == [
        ("FlexStatement", "FlexStatement", "U1:20250301..20250301#1"),
        ("MutualFundDividendDetails", "MutualFundDividendDetail", "U1:20250301..20250301#1"),
        ("FxPositions", "FxLot", "U1:20250301..20250301#1"),
        ("ChangeInPositionValues", "ChangeInPositionValues", "U1:20250301..20250301#1"),
    ]
    assert json.loads(other["attributes"][1]) == {"accountId": "U1", "amount": "3", "a": ""}


@pytest.mark.parametrize(("attribute", "text", "column"), [
    ("exDate", "31/31/2025", "ex_date"),
    ("dateTime", "20250301;99:00:00", "event_date"),
    ("amount", "10,5", "amount"),  # a decimal comma: not a number the parser reads
    ("conid", "abc", "conid"),
])
def test_an_unreadable_value_is_null_kept_raw_and_quarantined(
    flex_registered: None, attribute: str, text: str, column: str
) -> None:
    got = read_flex(cash_statement(**{attribute: text}))["flex_cash_transactions"]
    assert got[column][0] is None and json.loads(got["unparsed"][0]) == {attribute: text}
    valid, quarantined = split_valid("flex_cash_transactions", got, partition_key="2025-03-01")
    assert valid.is_empty() and "values_parsed" in quarantined["reason"][0]
    assert text in quarantined["row_json"][0]


def test_an_unreadable_report_date_cannot_be_placed_and_is_quarantined(flex_registered: None) -> None:
    got = read_flex(cash_statement(reportDate="2025-13-01"))["flex_cash_transactions"]
    assert got["report_date"][0] is None and json.loads(got["unparsed"][0]) == {"reportDate": "2025-13-01"}
    _valid, quarantined = split_valid("flex_cash_transactions", got, partition_key="2025-03-01")
    assert "report_date: not_nullable" in quarantined["reason"][0]


@pytest.mark.parametrize("text", ["", "--", "N/A", "-"])
def test_missing_numbers_are_null_not_unreadable(text: str) -> None:
    got = read_flex(cash_statement(amount=text, fxRateToBase=text))["flex_cash_transactions"]
    assert got["amount"][0] is None and got["unparsed"][0] is None


def test_thousands_separators_read() -> None:
    assert read_flex(cash_statement(amount="-1,234,567.5"))["flex_cash_transactions"]["amount"][0] == -1234567.5


def test_an_error_answer_or_broken_xml_is_one_clear_error() -> None:
    answer = (b"<FlexStatementResponse timestamp='x'><Status>Fail</Status><ErrorCode>1019</ErrorCode>"
              b"<ErrorMessage>Statement generation in progress.</ErrorMessage></FlexStatementResponse>")
    with pytest.raises(FlexFileError, match="error 1019: Statement generation in progress"):
        read_flex(answer)
    with pytest.raises(FlexFileError, match="does not parse"):
        read_flex(cash_statement()[:-40])


def test_every_mapped_column_is_in_its_spec_and_every_spec_column_is_filled() -> None:
    for name, mapping in MAPPINGS.items():
        mapped = {c for columns in mapping.attributes.values() for c in columns}
        spec_columns = set(mapping.spec.column_names)
        assert mapped <= spec_columns, name
        assert spec_columns - mapped <= COMPUTED, (name, spec_columns - mapped - COMPUTED)


def test_flex_tables_are_registered_and_fed_by_the_flex_source() -> None:
    assert {spec.name for spec in FLEX_TABLES} <= set(registry.TABLES)
    assert set(SOURCES["flex"].tables) == {spec.name for spec in FLEX_TABLES}
    for spec in FLEX_TABLES:
        assert pl.DataFrame(schema=spec.polars_schema()).columns == spec.column_names
        assert spec.partition_column == "report_date"


def test_other_rows_of_a_master_and_a_sub_account_statement_do_not_collide() -> None:
    info = section("SecuritiesInfo", row("SecurityInfo", accountId="U2", symbol="KO", conid="8894"))
    text = response(statement("F1", "20250301", "20250301", info), statement("U2", "20250301", "20250301", info))
    other = read_flex(text)["flex_other_rows"].filter(pl.col("element") == "SecurityInfo")
    assert other.select("account_id", "row_key").rows() == [("U2", "F1:20250301..20250301#1"),
                                                            ("U2", "U2:20250301..20250301#1")]


def test_a_row_missing_its_key_attributes_still_parses_and_is_left_for_validation() -> None:
    rates = section("ConversionRates", row("ConversionRate", reportDate="20250301", rate="1.1"))
    got = read_flex(response(statement("U1", "20250301", "20250301", rates)))["flex_conversion_rates"]
    assert got.select("from_currency", "to_currency", "rate").rows() == [(None, None, 1.1)]
