"""A long statement is read in bounded memory: rows are let go as they are read, never held as a tree."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from ibkr_pipelines.flex import parse_flex

ROWS = 40_000  # as a tree (ElementTree.parse) this file takes ~22 MB; tracemalloc makes each row ~4x slower
PEAK_LIMIT = 10 * 1024 * 1024


def write_long_statement(path: Path, rows: int) -> None:
    """A one-statement file of ``rows`` cash transactions, written line by line."""
    with path.open("w") as out:
        out.write('<FlexQueryResponse queryName="big" type="AF"><FlexStatements count="1"><FlexStatement '
                  'accountId="U1" fromDate="20200101" toDate="20251231" whenGenerated="20260101;120000">'
                  "<CashTransactions>")
        for n in range(rows):
            out.write(f'<CashTransaction amount="{n}.5" type="Dividends" reportDate="20240301" '
                      f'transactionID="{n}"/>\n')
        out.write("</CashTransactions></FlexStatement></FlexStatements></FlexQueryResponse>")


def test_a_long_statement_parses_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.xml"
    write_long_statement(path, ROWS)
    tracemalloc.start()
    try:
        heights = [c.frame.height for c in parse_flex(path, chunk_rows=1_000) if c.table == "flex_cash_transactions"]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(heights) == ROWS and max(heights) == 1_000
    assert peak < PEAK_LIMIT, f"parsing {ROWS} rows peaked at {peak / 2**20:.1f} MiB"
