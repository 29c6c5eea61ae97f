"""Trading calendars of the simulator's markets: holidays, sessions, daylight saving, lunch breaks."""

from __future__ import annotations

import datetime

from ibkr_pipelines.simulator.clock import UTC
from ibkr_pipelines.simulator.market_hours import (
    IDEALPRO,
    LSE,
    SEHK,
    TSE,
    US_EQUITY,
    easter,
    session,
    trading_dates,
)

D = datetime.date


def _utc(epoch_s: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch_s, UTC)


def test_easter_dates() -> None:
    assert [easter(y) for y in (2024, 2025, 2026)] == [D(2024, 3, 31), D(2025, 4, 20), D(2026, 4, 5)]


def test_nyse_holidays_of_2026_and_the_2025_day_of_mourning() -> None:
    expected = {D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 16), D(2026, 4, 3), D(2026, 5, 25), D(2026, 6, 19),
                D(2026, 7, 3), D(2026, 9, 7), D(2026, 11, 26), D(2026, 12, 25)}
    assert US_EQUITY.holidays(2026) == expected
    assert D(2025, 1, 9) in US_EQUITY.holidays(2025)
    # New Year's Day 2022 fell on a Saturday: NYSE does not close the Friday before
    assert D(2021, 12, 31) not in US_EQUITY.holidays(2021)


def test_uk_bank_holidays_move_off_weekends() -> None:
    h = LSE.holidays(2027)  # Christmas on a Saturday, Boxing Day on a Sunday
    assert {D(2027, 12, 27), D(2027, 12, 28)} <= h
    assert D(2026, 8, 31) in LSE.holidays(2026) and D(2026, 8, 31) not in US_EQUITY.holidays(2026)


def test_us_regular_session_follows_new_york_daylight_saving() -> None:
    summer = session(US_EQUITY, D(2026, 4, 2))  # the recording's date: 13:30 UTC, 390 minutes
    assert _utc(summer.start(False)) == datetime.datetime(2026, 4, 2, 13, 30, tzinfo=UTC)
    assert summer.minutes(False) == 390
    winter = session(US_EQUITY, D(2026, 11, 20))
    assert _utc(winter.start(False)) == datetime.datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert winter.minutes(True) == 960 and _utc(winter.start(True)).hour == 9  # 04:00 New York


def test_tokyo_and_hong_kong_have_a_lunch_break_and_fx_starts_the_evening_before() -> None:
    tokyo = session(TSE, D(2026, 11, 20))
    assert len(tokyo.rth) == 2 and tokyo.minutes(False) == 150 + 180
    hk = session(SEHK, D(2026, 11, 20))
    assert hk.minutes(False) == 150 + 180 and hk.parts(True) == ("rth",)
    fx = session(IDEALPRO, D(2026, 11, 23))  # Monday: opens Sunday 17:15 New York
    assert _utc(fx.start(False)).date() == D(2026, 11, 22) and fx.minutes(False) == 23 * 60 + 45


def test_trading_dates_skip_weekends_and_holidays() -> None:
    days = trading_dates(US_EQUITY, D(2026, 3, 30), D(2026, 4, 10))
    assert D(2026, 4, 3) not in days and all(d.weekday() < 5 for d in days) and len(days) == 9
    assert D(2026, 1, 12) not in trading_dates(TSE, D(2026, 1, 5), D(2026, 1, 16))  # Coming of Age Day
