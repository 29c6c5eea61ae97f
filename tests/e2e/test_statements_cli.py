"""Issue 12 from the command line: Account Management statements land as files beside a statements table.

The embedded simulator serves /gw/api/v1 to its own OAuth 2.0 login (connection.simulator_account_management);
a statement of a date is ready at 00:30 ET the next day, so the run asks for a date the simulator has closed.
31 October 2026 is a month's last day: each account gets its daily and its October statement.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from tests.e2e.cli_helpers import Workdir

pytestmark = pytest.mark.slow

DAY = "2026-10-31"


def _statements(work: Workdir) -> list[tuple[str, str, str, str, int]]:
    return work.query("select account_id, period, path, sha256, size_bytes from statements order by all")


def _table_hash(work: Workdir) -> str:
    return work.query("select md5(string_agg(t::varchar, '|' order by t::varchar)) from statements t")[0][0]


def test_statements_land_as_files_with_their_hashes_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    work = Workdir.make(tmp_path / "work")
    first = work.run(["ingest", "--select", "statements", "--from", DAY, "--to", DAY])
    assert first.returncode == 0, first.stderr[-3000:]
    rows = _statements(work)
    accounts = {r[0] for r in rows}
    assert accounts and {(a, p) for a, p, *_ in rows} == {(a, p) for a in accounts for p in ("daily", "monthly")}
    data = work.root / "data"
    for account, period, path, sha, size in rows:
        start = DAY if period == "daily" else "2026-10-01"
        assert path == f"lake/statements_files/{account}/{period}/{start}_{DAY}.pdf"
        content = (data / path).read_bytes()
        assert content.startswith(b"%PDF-") and hashlib.sha256(content).hexdigest() == sha and len(content) == size
    # The embedded simulator polices IBKR's AM limits: a listing per account and a document per row, no 429.
    am = re.search(r"Account Management: saw (\d+) requests, answered (\d+) with 429, served (\d+) documents",
                   first.stdout)
    assert am is not None, first.stdout[-2000:]
    assert (int(am[1]), int(am[2]), int(am[3])) == (len(accounts) + len(rows), 0, len(rows))
    # No document in the raw archive: a digest stands for it.
    archived = b"".join(gzip.decompress(p.read_bytes()) for p in (data / "raw").rglob("*.json.gz"))
    assert archived and b"%PDF" not in archived
    # The same date again: the same table, and no file rewritten.
    landed, stamps = _table_hash(work), {r[2]: (data / r[2]).stat().st_mtime_ns for r in rows}
    again = work.run(["ingest", "--select", "statements", "--from", DAY, "--to", DAY])
    assert again.returncode == 0, again.stderr[-3000:]
    assert _table_hash(work) == landed and _statements(work) == rows
    assert {r[2]: (data / r[2]).stat().st_mtime_ns for r in rows} == stamps
