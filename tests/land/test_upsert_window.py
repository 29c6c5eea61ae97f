"""An upsert window loads in chunks of dates, each one DELETE and one INSERT, with the result of loading date by date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from ibkr_pipelines.land import warehouse as warehouse_module
from ibkr_pipelines.land.warehouse import Warehouse, WindowPart
from ibkr_pipelines.schemas import polars_schema

UTC = dt.timezone.utc
DAYS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


def bars(day: dt.date, conids: list[int], close: float, *, start_day: dt.date | None = None) -> pl.DataFrame:
    """One 1d bar per conid; ``start_day`` puts the bar's key on another date (a key seen on two dates)."""
    starts = [dt.datetime.combine(start_day or day, dt.time(14, 30), UTC)] * len(conids)
    frame = pl.DataFrame({
        "bar_date": [day] * len(conids), "conid": conids, "bar_size": ["1d"] * len(conids),
        "source": ["Trades"] * len(conids), "outside_rth": [False] * len(conids), "bar_start_utc": starts,
        "open": [close] * len(conids), "high": [close] * len(conids), "low": [close] * len(conids),
        "close": [close] * len(conids),
    })
    schema = polars_schema("bars")
    return frame.with_columns(pl.lit(None, dtype=schema[n]).alias(n) for n in schema if n not in frame.columns).select(
        pl.col(n).cast(t) for n, t in schema.items())


def parts(folder: Path, frames: list[pl.DataFrame]) -> list[WindowPart]:
    found = []
    for day, frame in zip(DAYS, frames):
        path = folder / f"{day}.parquet"
        frame.write_parquet(path)
        found.append(WindowPart(str(day), path))
    return found


@pytest.mark.parametrize("chunk_rows", [1, 3, 1_000])
def test_later_dates_win_across_and_within_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int) -> None:
    monkeypatch.setattr(warehouse_module, "UPSERT_CHUNK_ROWS", chunk_rows)
    warehouse = Warehouse(tmp_path / "ibkr.duckdb")
    warehouse.ensure_schema()
    # conid 1's bar of the 18th is sent again with the 20th's file (a late correction): the 20th's row wins.
    frames = [bars(DAYS[0], [1, 2], 10.0), bars(DAYS[1], [1, 2], 11.0),
              pl.concat([bars(DAYS[2], [1, 2], 12.0), bars(DAYS[2], [1], 99.0, start_day=DAYS[0])])]
    results = warehouse.load_window("bars", parts(tmp_path, frames), "run-1")
    # Counted as loading date by date counts: the 20th's late row replaced the 18th's.
    assert [(r.partition_key, r.rows, r.replaced) for r in results] == [
        ("2026-11-18", 2, 0), ("2026-11-19", 2, 0), ("2026-11-20", 3, 1)]
    _, rows = warehouse.query_readonly("select conid, cast(bar_start_utc as date), close from bars order by all")
    assert rows == [(1, DAYS[0], 99.0), (1, DAYS[1], 11.0), (1, DAYS[2], 12.0),
                    (2, DAYS[0], 10.0), (2, DAYS[1], 11.0), (2, DAYS[2], 12.0)]
    again = warehouse.load_window("bars", parts(tmp_path, frames), "run-2")
    assert [r.replaced for r in again] == [2, 2, 3]  # every key is there already
    _, same = warehouse.query_readonly("select conid, cast(bar_start_utc as date), close from bars order by all")
    assert same == rows, "the same window twice changes nothing"


def test_a_duplicate_key_inside_one_file_is_refused(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "ibkr.duckdb")
    warehouse.ensure_schema()
    frames = [bars(DAYS[0], [1, 1], 10.0), bars(DAYS[1], [2], 11.0), bars(DAYS[2], [3], 12.0)]
    with pytest.raises(warehouse_module.LoadError, match="duplicate natural keys"):
        warehouse.load_window("bars", parts(tmp_path, frames), "run-1")
    assert warehouse.query_readonly("select count(*) from bars")[1] == [(0,)], "nothing of the window landed"
