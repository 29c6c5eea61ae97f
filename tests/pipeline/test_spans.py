"""A fetch that answers several days (IBKR's trades: the last 7) lands all of them, in spans IBKR can serve,
and the days no fetch ever landed are named."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from ibkr_pipelines.land.lake import Lake
from ibkr_pipelines.schemas import registry
from ibkr_pipelines.schemas.spec import DATE, TEXT, LoadStrategy, Reach, TableSpec, col
from ibkr_pipelines.sources import FetchInputs, FetchOutput, History, Source, register_source, unregister_source
from ibkr_pipelines.staging import fetch_chunks, uncovered_dates
from ibkr_pipelines.windows import DateWindow

D = dt.date(2026, 3, 20)
DAY = dt.timedelta(days=1)

RECENT = TableSpec(
    name="test_recent",
    description="Events IBKR serves for the last 7 days only (test).",
    source="a test fetch",
    columns=(col("event_date", DATE, "When.", nullable=False), col("event_id", TEXT, "Which.", nullable=False)),
    natural_key=("event_id",),
    load=LoadStrategy.UPSERT,
    partition_column="event_date",
    reach=Reach.RECENT,
    reach_days=7,
)


def _nothing(client: object, inputs: FetchInputs) -> FetchOutput:
    return FetchOutput({"test_recent": pl.DataFrame(schema=RECENT.polars_schema())})


SPANNING = Source("test_recent", ("test_recent",), "test", "a 7-day answer", _nothing, per_date=False, span_days=7)


@pytest.fixture(autouse=True)
def _registered() -> object:
    registry.register(RECENT)
    register_source(SPANNING)
    yield
    unregister_source("test_recent")
    registry.unregister("test_recent")


def test_a_night_lands_the_days_its_answer_spans() -> None:
    assert SPANNING.staged_window(DateWindow.of(D)) == DateWindow(D - 6 * DAY, D)
    # A real account serves nothing older than its reach: the span stops there.
    assert SPANNING.staged_window(DateWindow.of(D), oldest=D - 3 * DAY) == DateWindow(D - 3 * DAY, D)
    # A window longer than the span keeps its own start.
    assert SPANNING.staged_window(DateWindow(D - 20 * DAY, D)) == DateWindow(D - 20 * DAY, D)


def _older(client: object, inputs: FetchInputs) -> FetchOutput:
    return _nothing(client, inputs)


WITH_HISTORY = replace(SPANNING, history=History(_older, Reach.SETTLED, "another service"))


def test_a_long_window_is_fetched_in_spans_ibkr_can_serve_newest_first() -> None:
    chunks = fetch_chunks(SPANNING, DateWindow(D - 15 * DAY, D))
    assert [c.window for c in chunks] == [
        DateWindow(D - 6 * DAY, D), DateWindow(D - 13 * DAY, D - 7 * DAY), DateWindow(D - 15 * DAY, D - 14 * DAY)]
    assert {(c.fetch, c.reach, c.reach_days) for c in chunks} == {(_nothing, Reach.RECENT, 7)}
    assert [d for c in reversed(chunks) for d in c.window] == DateWindow(D - 15 * DAY, D).dates()
    # Without a "now" (a replay), a source with history is fetched as the Web API answered it.
    assert fetch_chunks(WITH_HISTORY, DateWindow(D - 15 * DAY, D)) == fetch_chunks(SPANNING, DateWindow(D - 15 * DAY, D))


def test_dates_older_than_the_reach_from_now_go_to_the_history_in_one_fetch() -> None:
    now = D + 2 * DAY  # the reach from now starts at D - 4
    chunks = fetch_chunks(WITH_HISTORY, DateWindow(D - 30 * DAY, D), present=now)
    assert [(c.window, c.fetch, c.reach) for c in chunks] == [
        (DateWindow(D - 4 * DAY, D), _nothing, Reach.RECENT),
        (DateWindow(D - 30 * DAY, D - 5 * DAY), _older, Reach.SETTLED),
    ]
    # A window wholly older than the reach is history alone; one wholly inside it never touches history.
    assert [c.fetch for c in fetch_chunks(WITH_HISTORY, DateWindow(D - 30 * DAY, D - 20 * DAY), present=now)] == [_older]
    assert [c.fetch for c in fetch_chunks(WITH_HISTORY, DateWindow(D - 4 * DAY, D), present=now)] == [_nothing]
    # A source without history keeps the Web API's spans whatever "now" is.
    assert [c.fetch for c in fetch_chunks(SPANNING, DateWindow(D - 30 * DAY, D), present=now)] == [_nothing] * 5


def test_snapshot_sources_are_still_fetched_date_by_date() -> None:
    snapshot = Source("x", ("test_recent",), "test", "per date", _nothing)
    assert [c.window for c in fetch_chunks(snapshot, DateWindow(D - 2 * DAY, D))] == [
        DateWindow.of(D - 2 * DAY), DateWindow.of(D - DAY), DateWindow.of(D)]


def test_dates_no_fetch_landed_are_named(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    empty = pl.DataFrame(schema=RECENT.polars_schema())
    landed = [D - 20 * DAY + n * DAY for n in range(7)] + [D - 6 * DAY + n * DAY for n in range(5)]
    for day in landed:
        lake.write_partition("test_recent", day, empty)
    assert uncovered_dates(lake, "test_recent", D) == (
        DateWindow(D - 13 * DAY, D - 7 * DAY),
        DateWindow(D - DAY, D),
    )
    assert uncovered_dates(lake, "test_recent", D - 2 * DAY) == (DateWindow(D - 13 * DAY, D - 7 * DAY),)
    assert uncovered_dates(Lake(tmp_path / "none"), "test_recent", D) == ()
