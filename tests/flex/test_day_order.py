"""Month/day order of slash dates is decided per file; a file that cannot say leaves ambiguous values unread."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from ibkr_pipelines.flex import read_flex
from ibkr_pipelines.flex.day_order import SlashEvidence, decide_day_first, scan_slash_dates
from tests.flex.flexxml import response, row, section, statement

TODAY = dt.date(2026, 4, 10)


def cash_file(day: str, report: str, when: str, generated: str, *, from_date: str | None = None) -> bytes:
    """One daily statement with one dividend, every date written by the caller in the layout under test."""
    dividend = row("CashTransaction", accountId="U1", currency="USD", amount="12.5", type="Dividends",
                   dateTime=when, reportDate=report, settleDate=report, transactionID="77")
    return response(statement("U1", from_date or day, day, section("CashTransactions", dividend),
                              generated=generated))


LAYOUTS = {
    "yyyyMMdd": cash_file("20260325", "20260325", "20260324;101500", "20260326;020304"),
    "yyyy-MM-dd": cash_file("2026-03-25", "2026-03-25", "2026-03-24 10:15:00", "2026-03-26;02:03:04 EDT"),
    "dd/MM/yyyy": cash_file("25/03/2026", "25/03/2026", "24/03/2026,10:15:00", "26/03/2026 02:03:04"),
    "MM/dd/yy": cash_file("03/25/26", "03/25/26", "03/24/26;101500", "03/26/26;020304"),
    "dd-MMM-yy": cash_file("25-Mar-26", "25-Mar-26", "24-Mar-26 10:15:00", "26-Mar-26 02:03:04"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_statement_reads_the_same_in_every_layout(layout: str) -> None:
    cash = read_flex(LAYOUTS[layout], today=TODAY)["flex_cash_transactions"]
    expected = read_flex(LAYOUTS["yyyyMMdd"], today=TODAY)["flex_cash_transactions"]
    assert cash.drop("raw_extra").equals(expected.drop("raw_extra"))
    got = cash.row(0, named=True)
    assert got["report_date"] == dt.date(2026, 3, 25) and got["event_date"] == dt.date(2026, 3, 24)
    assert got["event_time"] == dt.datetime(2026, 3, 24, 14, 15, tzinfo=dt.timezone.utc)
    assert got["generated_at"] == dt.datetime(2026, 3, 26, 6, 3, 4, tzinfo=dt.timezone.utc)
    assert got["unparsed"] is None


def test_a_day_above_12_anywhere_decides_the_file() -> None:
    # every date but the dividend's exDate reads both ways; 13/03 says day first for all of them
    text = cash_file("04/03/2026", "04/03/2026", "02/03/2026", "05/03/2026;010000").replace(
        b'transactionID="77"', b'transactionID="77" exDate="13/03/2026"')
    assert scan_slash_dates(text).day_first_seen
    got = read_flex(text, today=TODAY)["flex_cash_transactions"].row(0, named=True)
    assert got["report_date"] == dt.date(2026, 3, 4) and got["ex_date"] == dt.date(2026, 3, 13)


def test_the_generation_date_decides_when_no_day_exceeds_12() -> None:
    # 04/03 -> 04/05 generated on 04/05: as MM/dd that is April 3 to 5, generated April 5 (plausible);
    # as dd/MM it is 4 March to 4 May, generated 4 May: after "today" (April 10), so not a report
    text = cash_file("04/05/2026", "04/05/2026", "04/05/2026", "04/05/2026;010000", from_date="04/03/2026")
    evidence = scan_slash_dates(text)
    assert not evidence.day_first_seen and not evidence.month_first_seen
    assert decide_day_first(evidence, TODAY) is False
    assert read_flex(text, today=TODAY)["flex_cash_transactions"]["report_date"].to_list() == [dt.date(2026, 4, 5)]


def test_the_statement_period_decides_when_no_day_exceeds_12() -> None:
    # 01/02 .. 03/02 generated 04/02: as dd/MM, 1 to 3 February generated the 4th; as MM/dd, January 2
    # to March 2 generated April 2: both plausible, so the file cannot say
    text = cash_file("03/02/2026", "03/02/2026", "03/02/2026", "04/02/2026;010000", from_date="01/02/2026")
    assert decide_day_first(scan_slash_dates(text), TODAY) is None
    # the period running backwards under one order decides it
    backwards = cash_file("01/02/2026", "01/02/2026", "01/02/2026", "01/03/2026;010000", from_date="02/01/2026")
    assert decide_day_first(scan_slash_dates(backwards), TODAY) is True


def test_an_undecided_file_keeps_ambiguous_values_raw_and_unread() -> None:
    text = cash_file("03/02/2026", "03/02/2026", "03/02/2026", "04/02/2026;010000", from_date="01/02/2026")
    got = read_flex(text, today=TODAY)["flex_cash_transactions"].row(0, named=True)
    assert got["report_date"] is None and got["event_date"] is None
    assert json.loads(got["unparsed"]) == {"dateTime": "03/02/2026", "reportDate": "03/02/2026",
                                           "settleDate": "03/02/2026"}
    # the caller who knows the query's format says so
    known = read_flex(text, day_first=True)["flex_cash_transactions"].row(0, named=True)
    assert known["report_date"] == dt.date(2026, 2, 3) and known["unparsed"] is None


def test_both_orders_in_one_file_decide_nothing() -> None:
    evidence = SlashEvidence(day_first_seen=True, month_first_seen=True)
    assert decide_day_first(evidence, TODAY) is None


def test_the_scan_of_a_file_sees_dates_across_its_block_edges(tmp_path: Path) -> None:
    filler = row("SecurityInfo", description="x" * 200)
    text = response(statement("U1", "01/02/2026", "01/02/2026", section("SecuritiesInfo", *[filler] * 5200)))
    assert len(text) > 1 << 20  # read from a file in two blocks
    path = tmp_path / "big.xml"
    for offset in range(0, 40, 3):  # the only telling date just before, across and just after the block edge
        cut = (1 << 20) - 20 + offset
        telling = text[:cut] + b'<X a="25/12/2025"/>' + text[cut:]
        path.write_bytes(telling)
        assert scan_slash_dates(path).day_first_seen, offset
        assert scan_slash_dates(telling).day_first_seen
    assert len(scan_slash_dates(path).statements) == 1


def test_frames_keep_their_types_when_every_value_is_unread() -> None:
    text = cash_file("03/02/2026", "03/02/2026", "03/02/2026", "04/02/2026;010000", from_date="01/02/2026")
    cash = read_flex(text, today=TODAY)["flex_cash_transactions"]
    assert cash.schema["report_date"] == pl.Date and cash.schema["event_time"] == pl.Datetime("us", "UTC")
