"""Every date and time layout a Flex query can be set to write reads to the same date and instant."""

from __future__ import annotations

import datetime as dt

import pytest

from ibkr_pipelines.flex.dates import UnreadableValue, read_date, read_instant, read_moment

DAY = dt.date(2026, 3, 25)
# 2026-03-25 14:05:09 New York (EDT, UTC-4)
INSTANT = dt.datetime(2026, 3, 25, 18, 5, 9, tzinfo=dt.timezone.utc)
DATES = {
    "yyyyMMdd": "20260325", "yyyy-MM-dd": "2026-03-25", "MM/dd/yyyy": "03/25/2026", "MM/dd/yy": "03/25/26",
    "dd/MM/yyyy": "25/03/2026", "dd/MM/yy": "25/03/26", "dd-MMM-yy": "25-Mar-26", "dd-MMM-yyyy": "25-MAR-2026",
}
TIMES = {"HHmmss": "140509", "HH:mm:ss": "14:05:09"}
SEPARATORS = {"semicolon": ";", "comma": ",", "space": " ", "T": "T", "none": ""}


@pytest.mark.parametrize("layout", DATES)
def test_every_date_layout_reads(layout: str) -> None:
    assert read_date(DATES[layout], None) == DAY  # 25 > 12: no order needed
    assert read_instant(DATES[layout], None) is None


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("time_layout", TIMES)
@pytest.mark.parametrize("layout", DATES)
def test_every_date_time_layout_reads(layout: str, time_layout: str, separator: str) -> None:
    text = DATES[layout] + SEPARATORS[separator] + TIMES[time_layout]
    assert read_moment(text, None).day == DAY
    assert read_instant(text, None) == INSTANT


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-04-09;21:23:54 EDT", dt.datetime(2026, 4, 10, 1, 23, 54, tzinfo=dt.timezone.utc)),  # recorded
    ("20260409;135737", dt.datetime(2026, 4, 9, 17, 57, 37, tzinfo=dt.timezone.utc)),  # recorded, no zone: New York
    ("20260109;135737", dt.datetime(2026, 1, 9, 18, 57, 37, tzinfo=dt.timezone.utc)),  # winter: EST
    ("20260109;135737 EST", dt.datetime(2026, 1, 9, 18, 57, 37, tzinfo=dt.timezone.utc)),
    ("2026-04-09T21:23:54Z", dt.datetime(2026, 4, 9, 21, 23, 54, tzinfo=dt.timezone.utc)),
    ("2026-04-09, 21:23:54 GMT", dt.datetime(2026, 4, 9, 21, 23, 54, tzinfo=dt.timezone.utc)),
])
def test_zones_convert_to_utc(text: str, expected: dt.datetime) -> None:
    assert read_instant(text, None) == expected


@pytest.mark.parametrize(("text", "day_first", "expected"), [
    ("04/09/2026", False, dt.date(2026, 4, 9)),
    ("04/09/2026", True, dt.date(2026, 9, 4)),
    ("04/09/26", True, dt.date(2026, 9, 4)),
    ("13/09/2026", None, dt.date(2026, 9, 13)),  # only one order reads
    ("09/13/2026", None, dt.date(2026, 9, 13)),
    ("04/04/2026", None, dt.date(2026, 4, 4)),  # both orders agree
    ("01/02/85", False, dt.date(1985, 1, 2)),  # yy from 70 on is 19yy
])
def test_month_and_day_order(text: str, day_first: bool | None, expected: dt.date) -> None:
    assert read_date(text, day_first) == expected


@pytest.mark.parametrize("text", [
    "04/09/2026",  # both orders read, none given
    "13/13/2026", "2026-02-30", "20261301", "31-Foo-26", "yesterday", "2026-04-09;25:00:00",
    "2026-04-09;21:23:54 XYZT",  # a zone the parser does not know: not guessed
    "2026-04-09 EDT",  # a zone without a time
])
def test_unreadable_values_raise_rather_than_guess(text: str) -> None:
    with pytest.raises(UnreadableValue):
        read_moment(text, None)
