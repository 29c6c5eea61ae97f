"""Partition windows, and which of them a real account can serve for each reach."""

from __future__ import annotations

import datetime as dt

import pytest

from ibkr_pipelines.connection import Connection, reach_problem
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.schemas.spec import Reach
from ibkr_pipelines.windows import DateWindow

TODAY = dt.date(2026, 11, 20)


def test_a_window_lists_its_dates_and_refuses_to_run_backwards() -> None:
    window = DateWindow.from_keys("2026-11-18", "2026-11-20")
    assert window.dates() == [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
    assert len(window) == 3 and str(window) == "2026-11-18..2026-11-20"
    assert str(DateWindow.of(TODAY)) == "2026-11-20"
    with pytest.raises(ValueError, match="ends on or after its start"):
        DateWindow(TODAY, TODAY - dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("window", "reach", "days", "served"),
    [
        (DateWindow.of(TODAY), Reach.CURRENT, 0, True),
        (DateWindow.of(TODAY - dt.timedelta(days=1)), Reach.CURRENT, 0, True),  # after New York's midnight
        (DateWindow(TODAY - dt.timedelta(days=4), TODAY), Reach.CURRENT, 0, False),  # a backfill of snapshots
        (DateWindow(TODAY - dt.timedelta(days=6), TODAY), Reach.RECENT, 7, True),
        (DateWindow(TODAY - dt.timedelta(days=7), TODAY), Reach.RECENT, 7, False),
        (DateWindow.of(TODAY + dt.timedelta(days=1)), Reach.RECENT, 7, False),
        (DateWindow(dt.date(2020, 1, 1), TODAY), Reach.ANY, 0, True),
        # A report (Flex) of a date exists once IBKR has closed its books on it: from the next day.
        (DateWindow(dt.date(2020, 1, 1), TODAY - dt.timedelta(days=1)), Reach.SETTLED, 0, True),
        (DateWindow(TODAY - dt.timedelta(days=3), TODAY), Reach.SETTLED, 0, False),
    ],
)
def test_a_real_account_serves_only_what_its_reach_allows(
    window: DateWindow, reach: Reach, days: int, served: bool
) -> None:
    assert (reach_problem(window, reach, days, TODAY) is None) is served


def test_a_snapshot_backfill_on_a_real_account_fails_with_one_line() -> None:
    connection = Connection(client=None)  # type: ignore[arg-type]  # a real account: no simulator
    now = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.timezone.utc)
    with pytest.raises(ConfigError) as raised:
        connection.serve(DateWindow(dt.date(2026, 11, 16), TODAY), Reach.CURRENT, now=now)
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("partition: IBKR's portfolio endpoints only return the current state;")


def test_a_range_from_flags_needs_both_ends_in_order() -> None:
    assert DateWindow.from_flags(None, None) is None
    assert DateWindow.from_flags(TODAY, TODAY) == DateWindow.of(TODAY)
    with pytest.raises(ConfigError, match=r"^--from: a range needs both --from and --to$"):
        DateWindow.from_flags(None, TODAY)
    with pytest.raises(ConfigError, match=r"^--to: 2026-11-19 is before --from 2026-11-20$"):
        DateWindow.from_flags(TODAY, TODAY - dt.timedelta(days=1))
