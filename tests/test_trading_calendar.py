"""One trading date: New York's calendar date, the same for the CLI, the checks and Dagster's partitions."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from assets.partitions import DAILY
from ibkr_pipelines.connection import Connection
from ibkr_pipelines.errors import ConfigError
from ibkr_pipelines.ingest_command import resolve_partition_date
from ibkr_pipelines.trading_calendar import FIRST_PARTITION_DATE, trading_date

UTC = dt.timezone.utc

# (instant, New York date at that instant): evenings in New York are already tomorrow in UTC and Asia;
# 2026-03-08 and 2026-11-01 are the DST changes (02:00 local).
INSTANTS = [
    (dt.datetime(2026, 11, 25, 5, 30, tzinfo=UTC), dt.date(2026, 11, 25)),  # 00:30 in New York
    (dt.datetime(2026, 11, 26, 4, 59, tzinfo=UTC), dt.date(2026, 11, 25)),  # 23:59 in New York
    (dt.datetime(2026, 11, 26, 0, 30, tzinfo=UTC), dt.date(2026, 11, 25)),  # 09:30 in Tokyo, the 26th
    (dt.datetime(2026, 3, 8, 6, 59, tzinfo=UTC), dt.date(2026, 3, 8)),  # 01:59 EST, just before spring forward
    (dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC), dt.date(2026, 3, 8)),  # 03:00 EDT
    (dt.datetime(2026, 3, 9, 3, 59, tzinfo=UTC), dt.date(2026, 3, 8)),  # 23:59 EDT
    (dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC), dt.date(2026, 11, 1)),  # 01:30 EDT, first pass
    (dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC), dt.date(2026, 11, 1)),  # 01:30 EST, second pass
    (dt.datetime(2026, 11, 2, 4, 59, tzinfo=UTC), dt.date(2026, 11, 1)),  # 23:59 EST
    (dt.datetime(2026, 11, 2, 5, 0, tzinfo=UTC), dt.date(2026, 11, 2)),  # midnight EST
]


@pytest.mark.parametrize(("now", "expected"), INSTANTS)
def test_trading_date_is_new_yorks_date(now: dt.datetime, expected: dt.date) -> None:
    assert trading_date(now) == expected


@pytest.mark.parametrize(("now", "expected"), INSTANTS)
def test_dagster_and_the_cli_agree_on_todays_partition(now: dt.datetime, expected: dt.date) -> None:
    with partition_loading_context(effective_dt=now):  # Dagster's own notion of "now" for partitions
        assert DAILY.get_last_partition_key() == expected.isoformat()
    assert resolve_partition_date(None, now) == expected
    assert DAILY.get_first_partition_key() == FIRST_PARTITION_DATE.isoformat()


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        trading_date(dt.datetime(2026, 11, 25, 12, 0))


@pytest.mark.parametrize("requested", [dt.date(2099, 1, 1), dt.date(2026, 11, 26), dt.date(2024, 12, 31)])
def test_a_date_outside_the_partitions_names_the_valid_range(requested: dt.date) -> None:
    now = dt.datetime(2026, 11, 26, 2, 13, tzinfo=UTC)  # 21:13 on the 25th in New York
    with pytest.raises(ConfigError) as caught:
        resolve_partition_date(requested, now)
    assert str(caught.value) == (
        f"--date: {requested} is not a partition; choose a date from 2025-01-01 to 2026-11-25 (today in New York)"
    )


def test_todays_and_older_partitions_are_accepted() -> None:
    now = dt.datetime(2026, 11, 26, 2, 13, tzinfo=UTC)
    for day in (dt.date(2026, 11, 25), dt.date(2025, 1, 1), dt.date(2026, 2, 28)):
        assert resolve_partition_date(day, now) == day


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC), True),  # 18:00 New York on the day
        (dt.datetime(2026, 11, 21, 4, 30, tzinfo=UTC), True),  # 23:30 New York: the nightly schedule
        (dt.datetime(2026, 11, 21, 6, 0, tzinfo=UTC), True),  # 01:00 New York the next day (grace)
        (dt.datetime(2026, 11, 22, 6, 0, tzinfo=UTC), False),  # two days later: that state is gone
        (dt.datetime(2026, 11, 20, 4, 0, tzinfo=UTC), False),  # 23:00 New York the day before
    ],
)
def test_a_real_account_snapshots_only_its_trading_date(now: dt.datetime, ok: bool) -> None:
    connection = Connection(client=None)  # type: ignore[arg-type]  # a real account: no simulator
    if ok:
        connection.at_date(dt.date(2026, 11, 20), now=now)
        return
    with pytest.raises(ConfigError, match=r"^partition: IBKR's portfolio endpoints only return the current state; "):
        connection.at_date(dt.date(2026, 11, 20), now=now)
