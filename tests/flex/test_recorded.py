"""Every recorded Flex file parses into the right tables with the right row counts and values.

The counts come from a plain ElementTree pass over the file (not from the parser): execution lines
(Trade, TradeConfirm) are trades, CashTransaction rows are cash transactions, and every other element
with attributes, the FlexStatement included, is an other row.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from ibkr_pipelines.flex import read_flex
from ibkr_pipelines.schemas.flex_tables import FLEX_SPECS
from tests.extract.conftest import recorded_dir

FLEX_DIR = recorded_dir() / "Flex"
FILES = sorted(FLEX_DIR.glob("*.xml")) if FLEX_DIR.is_dir() else []
TABLE_OF = {"Trade": "flex_trades", "TradeConfirm": "flex_trades", "CashTransaction": "flex_cash_transactions"}


def expected_counts(path: Path) -> Counter[str]:
    """Rows per table, by element name, counted with ElementTree."""
    counts: Counter[str] = Counter()
    for statement in ET.parse(path).getroot().iter("FlexStatement"):
        for element in statement.iter():  # the statement itself is an other row too
            if element.attrib:
                counts[TABLE_OF.get(element.tag, "flex_other_rows")] += 1
    return counts


@pytest.mark.skipif(not FILES, reason=f"no recorded Flex files in {FLEX_DIR}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_recorded_file_parses_into_the_expected_tables(path: Path) -> None:
    frames = read_flex(path, today=dt.date(2026, 4, 10))
    assert {name: frame.height for name, frame in frames.items() if frame.height} == dict(expected_counts(path))
    for name, frame in frames.items():
        FLEX_SPECS[name].pandera_schema().validate(frame)  # every row lands: none would be quarantined
        assert frame.columns == FLEX_SPECS[name].column_names


@pytest.mark.skipif(not FILES, reason=f"no recorded Flex files in {FLEX_DIR}")
def test_daily_cash_statements_keep_each_row_in_its_statement_date() -> None:
    text = (FLEX_DIR / "cash-transactions.xml").read_text()
    cash = read_flex(FLEX_DIR / "cash-transactions.xml")["flex_cash_transactions"]
    amounts = [float(a) for a in re.findall(r'<CashTransaction [^>]*\bamount="([^"]*)"', text)]
    assert cash["amount"].sum() == pytest.approx(sum(amounts))
    assert cash["row_key"].to_list() == [f"txn:{t}" for t in re.findall(r'transactionID="(\d+)"', text)]
    assert (cash["report_date"] == cash["statement_to_date"]).all()
    deposit = cash.filter(pl.col("category") == "deposit_withdrawal").row(0, named=True)
    # dateTime 20260201;005850 is New York time (EST), reported on the next business day
    assert deposit["event_time"] == dt.datetime(2026, 2, 1, 5, 58, 50, tzinfo=dt.timezone.utc)
    assert deposit["event_date"] == dt.date(2026, 2, 1) and deposit["report_date"] == dt.date(2026, 2, 2)
    assert set(cash["category"]) == {"deposit_withdrawal", "interest"}
    assert cash["event_time"].null_count() == 2  # "20260304": a date without a time


@pytest.mark.skipif(not FILES, reason=f"no recorded Flex files in {FLEX_DIR}")
def test_trade_confirmations_are_executions_and_their_summaries_other_rows() -> None:
    text = (FLEX_DIR / "trade-confirmations.xml").read_text()
    frames = read_flex(FLEX_DIR / "trade-confirmations.xml")
    trades, other = frames["flex_trades"], frames["flex_other_rows"]
    confirms = re.findall(r"<TradeConfirm ([^>]*)/>", text)
    assert trades["exec_id"].to_list() == [re.search(r'execID="([^"]*)"', c)[1] for c in confirms]
    trade_ids = [re.search(r'tradeID="(\d+)"', c)[1] for c in confirms]
    assert trades["row_key"].to_list() == ["trade:" + t for t in trade_ids]
    assert trades["quantity"].sum() == pytest.approx(sum(float(re.search(r'quantity="([^"]*)"', c)[1]) for c in confirms))
    first = trades.row(0, named=True)
    assert first["trade_time"] == dt.datetime(2026, 4, 2, 15, 8, 5, tzinfo=dt.timezone.utc)  # 11:08:05 EDT
    assert first["element"] == "TradeConfirm" and first["price"] == 582.74 and first["commission"] == -1
    assert first["generated_at"] == dt.datetime(2026, 4, 10, 1, 23, 54, tzinfo=dt.timezone.utc)
    assert Counter(other["element"]) == Counter({"Order": 39, "SymbolSummary": 2, "FlexStatement": 1})
    kept = json.loads(other.filter(pl.col("element") == "FlexStatement")["attributes"][0])
    assert kept["period"] == "" and kept["FlexQueryResponse.type"] == "TCF"
    assert other.select("section", "element", "row_key").is_unique().all()


@pytest.mark.skipif(not FILES, reason=f"no recorded Flex files in {FLEX_DIR}")
def test_recorded_trade_confirmations_are_fills_for_executions() -> None:
    """A TCF line has no transactionID: that must not read as "cancelled" (it once dropped every TCF fill)."""
    from ibkr_pipelines.extract.flex_executions import executions_from_flex
    from ibkr_pipelines.windows import DateWindow

    trades = read_flex(FLEX_DIR / "trade-confirmations.xml")["flex_trades"]
    assert trades["transaction_id"].null_count() == trades.height
    days = trades["trade_time"].dt.convert_time_zone("America/New_York").dt.date()
    fills = executions_from_flex(trades, DateWindow(days.min(), days.max()))  # type: ignore[arg-type]
    assert sorted(fills["execution_id"]) == sorted(set(trades["exec_id"]))
    assert set(fills["side"]) <= {"B", "S"} and (fills["quantity"] > 0).all() and (fills["commission"] >= 0).all()
