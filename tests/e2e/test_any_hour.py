"""`ibkr-pipelines ingest` at any hour in any time zone: the whole process runs under libfaketime.

The command, Dagster's partitions and the embedded simulator all read the (faked) clock, so these runs
prove they agree on "today" where the machine's local date differs from New York's: New York evenings
(already tomorrow in UTC), a morning in Tokyo, and both DST-change days.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ibkr_pipelines.sources import nightly_tables
from tests.e2e.cli_helpers import FAKETIME_LIB, NO_FAKETIME, Workdir, faked_clock

UTC = dt.timezone.utc

# (label, instant in UTC, the process's TZ, New York date expected, full ingest or accounts only)
CASES = [
    ("00:30 New York", dt.datetime(2026, 11, 25, 5, 30, tzinfo=UTC), "America/New_York", dt.date(2026, 11, 25), True),
    ("23:59 New York", dt.datetime(2026, 11, 26, 4, 59, tzinfo=UTC), "America/New_York", dt.date(2026, 11, 25), True),
    ("09:30 Tokyo", dt.datetime(2026, 11, 26, 0, 30, tzinfo=UTC), "Asia/Tokyo", dt.date(2026, 11, 25), False),
    ("spring-forward day, 23:59 EDT", dt.datetime(2026, 3, 9, 3, 59, tzinfo=UTC), "Europe/Berlin",
     dt.date(2026, 3, 8), False),
    ("spring-forward day, 00:30 EST", dt.datetime(2026, 3, 8, 5, 30, tzinfo=UTC), "Australia/Sydney",
     dt.date(2026, 3, 8), False),
    ("fall-back day, 01:30 EST (second pass)", dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "UTC",
     dt.date(2026, 11, 1), False),
]


@pytest.mark.slow
@pytest.mark.skipif(FAKETIME_LIB is None, reason=NO_FAKETIME)
@pytest.mark.parametrize(("label", "instant", "tz", "expected", "full"), CASES, ids=[c[0] for c in CASES])
def test_ingest_lands_new_yorks_date(
    tmp_path: Path, label: str, instant: dt.datetime, tz: str, expected: dt.date, full: bool
) -> None:
    work = Workdir.make(tmp_path)
    local = instant.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")  # libfaketime reads local time
    args = ["ingest"] if full else ["ingest", "--select", "accounts"]
    done = work.run(
        args,
        **faked_clock(local, tz),
        timeout=240,
    )
    assert done.returncode == 0, f"{label}: {done.stderr[-3000:]}"
    assert f"Landed for {expected}" in done.stdout
    assert work.query("SELECT DISTINCT snapshot_date FROM accounts") == [(expected,)]
    if full:
        counts = dict(work.query("SELECT table_name, count(*) FROM _load_log GROUP BY 1"))
        assert set(counts) == set(nightly_tables())
