"""The two steps of every dataset over a window of dates, shared by the Dagster assets, the CLI and tests.

Stage: fetch a source from IBKR (once per date for snapshots of "now", once for the window
otherwise), archive the raw answers, validate each table's rows and write one lake partition per
table and date (with its quarantine). Load: merge a table's lake partitions of the window into
DuckDB in one transaction. Which tables, keys, dates and slices: all from the source and the specs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Protocol

import polars as pl
import pyarrow.parquet as pq

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import Lake, PartitionSlice, partition_key_of
from ibkr_pipelines.land.raw_archive import RawArchive
from ibkr_pipelines.land.spill import DAY, Spill
from ibkr_pipelines.land.validate import split_valid_partitions
from ibkr_pipelines.land.warehouse import Warehouse, WindowPart
from ibkr_pipelines.reuse import ReusingClient
from ibkr_pipelines.schemas import Reach, spec_for
from ibkr_pipelines.config import Settings
from ibkr_pipelines.sources import FetchInputs, FetchOutput, Source, nightly_tables, source_of
from ibkr_pipelines.windows import DateWindow

progress = logging.getLogger("ibkr_pipelines.progress")
# Rows of a table validated in one pandera pass while writing the lake (several dates of a backfill at once).
VALIDATE_BATCH_ROWS = 100_000


class MissingUpstream(IbkrPipelinesError):
    """A dataset needs lake partitions that have not been staged yet."""


class StagingClient(ApiClient, Protocol):
    """What staging needs of a client: requests, counters, and a way to archive the answers it receives."""

    stats: RunStats

    def recording(self, hook: Callable[..., None]) -> ContextManager[None]:
        """Hand every answer received inside the block to ``hook`` (the raw archive)."""


class DateServer(Protocol):
    """Points IBKR (or the simulator's clock) at the dates a fetch serves, refusing what IBKR cannot serve."""

    def serve(self, window: DateWindow, reach: Reach, reach_days: int = 0) -> None:
        """Move the simulator to ``window``'s end, or check a real account can serve the whole window."""

    def oldest(self, reach: Reach, reach_days: int = 0) -> dt.date | None:
        """The oldest date IBKR can serve today for this reach (None: any; the simulator moves its clock)."""

    def present(self) -> dt.date | None:
        """The date IBKR's "now" stands for (the simulator's starting date); None: unknown (a replay)."""


@dataclass(frozen=True)
class Storage:
    """Where one deployment keeps its data: lake, raw archive, and the DuckDB warehouse."""

    root: Path
    lake: Lake
    raw: RawArchive
    warehouse: Warehouse

    @classmethod
    def at(cls, root: Path, *, lock_timeout: float = 600.0) -> "Storage":
        """Storage under ``root`` (``data/`` by default); DuckDB connections wait ``lock_timeout`` s for the file."""
        warehouse = Warehouse(root / "ibkr.duckdb", lock_timeout=lock_timeout)
        return cls(root=root, lake=Lake(root), raw=RawArchive(root), warehouse=warehouse)


@dataclass(frozen=True)
class TableStaged:
    """What staging wrote for one table over a window: rows and quarantined rows per date, the lake files."""

    table: str
    window: DateWindow
    rows_by_date: dict[str, int]
    quarantined_by_date: dict[str, int]
    lake_paths: tuple[Path, ...]
    columns: dict[str, str]
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Valid rows over the window."""
        return sum(self.rows_by_date.values())

    @property
    def quarantined(self) -> int:
        """Quarantined rows over the window."""
        return sum(self.quarantined_by_date.values())


@dataclass(frozen=True)
class StageResult:
    """What staging one source over a window produced: one entry per table it feeds."""

    source: str
    window: DateWindow
    tables: dict[str, TableStaged]
    requests: int
    seconds: float


@dataclass(frozen=True)
class LoadSummary:
    """What loading one table's window into DuckDB left there."""

    table: str
    window: DateWindow
    rows: int
    quarantined: int
    columns: dict[str, str]
    rows_by_date: dict[str, int] = field(default_factory=dict)
    duplicate_keys: int = 0
    lock_wait_seconds: float = 0.0
    seconds: float = 0.0
    missing_values: dict[str, int] = field(default_factory=dict)  # analyst column -> rows without a value
    uncovered: tuple[DateWindow, ...] = ()  # dates inside the table's history that no fetch landed


def source_reach(source: Source) -> tuple[Reach, int]:
    """The narrowest reach among the tables a source feeds (what IBKR can serve of all of them)."""
    order = {Reach.CURRENT: 0, Reach.RECENT: 1, Reach.SETTLED: 2, Reach.ANY: 3}
    specs = sorted((spec_for(t) for t in source.tables), key=lambda s: (order[s.reach], s.reach_days))
    return specs[0].reach, specs[0].reach_days


def _missing_dates(lake: Lake, table: str, window: DateWindow) -> str:
    """The dates of ``window`` without a lake partition of ``table``, as text ("" when none)."""
    missing = [str(d) for d in window if not lake.partition_path(table, d).exists()]
    if len(missing) <= 1:
        return "".join(missing)
    return f"{missing[0]}..{missing[-1]} ({len(missing)} dates)"


def _upstream(source: Source, lake: Lake, window: DateWindow) -> dict[str, pl.DataFrame]:
    """The window's lake partitions of every table the source reads, stacked (one date: that date's).

    An upstream whose fetch spans earlier days is read over that span too, where landed, so what
    one night refreshed reaches the sources that read it. ``Source.reads`` tables are read the same
    way but only where landed (empty when none): the source does not wait for them.
    ``Source.reads_latest`` tables are read at their newest landed date and the window's landed dates.
    """
    frames: dict[str, pl.DataFrame] = {}
    for table in source.upstream:
        missing = _missing_dates(lake, table, window)
        if missing:
            raise MissingUpstream(f"{source.name} needs lake/{table} for {missing}: materialize {table} first")
        days = [d for d in source_of(table).staged_window(window)
                if d >= window.start or lake.partition_path(table, d).exists()]
        frames[table] = pl.concat([lake.read_partition(table, d) for d in days], how="vertical_relaxed")
    for table in source.reads:
        found = [d for d in source_of(table).staged_window(window) if lake.partition_path(table, d).exists()]
        frames[table] = _read_dates(lake, table, found)
    for table in source.reads_latest:
        landed = lake.partitions(table)
        found = {d for d in window if lake.partition_path(table, d).exists()}
        frames[table] = _read_dates(lake, table, sorted(found | {dt.date.fromisoformat(landed[-1])} if landed else found))
    return frames


def _read_dates(lake: Lake, table: str, days: list[dt.date]) -> pl.DataFrame:
    """The lake partitions of ``table`` at ``days``, stacked (an empty frame of its layout when none)."""
    found = [lake.read_partition(table, d) for d in days]
    return pl.concat(found, how="vertical_relaxed") if found else pl.DataFrame(schema=spec_for(table).polars_schema())


def _with_day(table: str, frame: pl.DataFrame, window: DateWindow) -> pl.DataFrame:
    """The rows with the date each belongs to (the spill's ``DAY`` column), from the table's partition column.

    One expression per piece, whatever the number of dates it covers; the spill splits by date later.
    """
    spec = spec_for(table)
    if len(window) == 1 or spec.partition_column is None:  # an undated table: the rows belong to the window's last date
        return frame.with_columns(pl.lit(window.end, dtype=pl.Date).alias(DAY))
    dates = pl.col(spec.partition_column)
    if isinstance(frame.schema[spec.partition_column], pl.Datetime):
        dates = dates.dt.date()
    keyed = frame.with_columns(dates.cast(pl.Date).alias(DAY))
    outside = keyed.filter(~pl.col(DAY).is_between(window.start, window.end)).height
    if outside:
        raise IbkrPipelinesError(f"{table}: {outside} fetched rows fall outside the window {window}")
    # A row whose date did not parse belongs to no date: it goes with the window's last date, where
    # validation quarantines it (with its reason) rather than a filter losing it.
    return keyed.with_columns(pl.col(DAY).fill_null(window.end))


def _write_table(
    storage: Storage, table: str, spill: Spill, window: DateWindow, covered: tuple[str, ...] | None, run_id: str | None
) -> TableStaged:
    """Validate and write one table's spilled rows, one lake partition (and quarantine) per date of ``window``."""
    spec = spec_for(table)
    slice_ = PartitionSlice(spec.slice_column, covered) if covered is not None and spec.slice_column else None
    rows, quarantined, paths, reasons, columns = {}, {}, [], {}, {}
    for batch in _date_batches(spill, table, window, spec.polars_schema()):
        keyed = [(partition_key_of(day), frame) for day, frame in batch]
        for (day, _), (key, _), (valid, quarantine) in zip(
                batch, keyed, split_valid_partitions(table, keyed, run_id=run_id)):
            paths.append(storage.lake.write_partition(table, key, valid, slice_=slice_))
            storage.lake.write_quarantine(table, key, quarantine)
            spill.discard(table, day)
            rows[key], quarantined[key] = valid.height, quarantine.height
            columns = {name: str(dtype) for name, dtype in valid.schema.items()}
            if quarantine.height:
                for reason, count in quarantine.group_by("reason").len().iter_rows():
                    reasons[reason] = reasons.get(reason, 0) + count
    return TableStaged(table, window, rows, quarantined, tuple(paths), columns, reasons)


def _date_batches(
    spill: Spill, table: str, window: DateWindow, schema: pl.Schema
) -> Iterator[list[tuple[dt.date, pl.DataFrame]]]:
    """The window's dates and their spilled rows, a few dates at a time (about VALIDATE_BATCH_ROWS rows).

    Validated together, a batch costs one pandera pass instead of one per date (~11 ms each); the
    row budget keeps a backfill of minute bars bounded in memory.
    """
    batch: list[tuple[dt.date, pl.DataFrame]] = []
    held = 0
    for day in window:
        frame = spill.read(table, day, schema)
        batch.append((day, frame))
        held += frame.height
        if held >= VALIDATE_BATCH_ROWS:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def archive_tags(source: Source, window: DateWindow, run_id: str | None) -> dict[str, str]:
    """What the raw archive notes on every answer of one fetch, so a rebuild finds exactly those answers."""
    return {"source": source.name, "window": str(window), "run_id": run_id or ""}


def _fetch(
    source: Source,
    fetch: Callable[[ApiClient, FetchInputs], "FetchOutput | Iterator[FetchOutput]"],
    client: StagingClient,
    storage: Storage,
    window: DateWindow,
    inputs: FetchInputs,
    run_id: str | None,
) -> Iterator[FetchOutput]:
    """One fetch, piece by piece, with its raw answers archived under the window's first date, tagged with the source and run.

    A source fetch returns one ``FetchOutput`` or yields several (a long window streams answer by
    answer). Scarce answers (one per 15 minutes) this fetch already received moments ago are reused
    (``reuse.py``).
    """
    partition, tags = partition_key_of(window.start), archive_tags(source, window, run_id)
    with client.recording(storage.raw.hook(partition, tags)):
        fetched = fetch(ReusingClient(client, storage.raw, partition, tags), inputs)
        if isinstance(fetched, FetchOutput):
            yield fetched
        else:
            yield from fetched


def _covered(merged: tuple[str, ...] | None | bool) -> tuple[str, ...] | None:
    """The slice of ``_merge_covered``'s result (no piece at all: the whole partition)."""
    return None if merged is False or merged is True else merged


def _merge_covered(before: tuple[str, ...] | None | bool, piece: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The slice several pieces covered together (None, the whole partition, as soon as one covered all)."""
    if before is False:
        return piece
    if before is None or piece is None:
        return None
    return tuple(dict.fromkeys([*before, *piece]))  # type: ignore[misc]


@dataclass(frozen=True)
class Chunk:
    """One fetch of a window: its dates, the fetch that serves them, and the reach IBKR serves them with."""

    window: DateWindow
    fetch: Callable[[ApiClient, FetchInputs], "FetchOutput | Iterator[FetchOutput]"]
    reach: Reach
    reach_days: int = 0
    lead_days: int = 0  # days past the window the fetch reads, and IBKR must be able to serve

    @property
    def served(self) -> DateWindow:
        """The dates IBKR is asked about: the window and its lead days."""
        return DateWindow(self.window.start, self.window.end + dt.timedelta(days=self.lead_days))


def fetch_chunks(source: Source, staged: DateWindow, present: dt.date | None = None) -> list[Chunk]:
    """The fetches of ``staged``: each date of a snapshot source, else spans its reach can serve at once.

    A source of recent reach (IBKR's trades: the last 7 days from "now") answers at most
    ``reach_days`` ending at the date it is served for, so a longer window is fetched in such spans,
    newest first; the dates older than the reach from ``present`` go to the source's ``history``
    (Flex) in one fetch when it has one. Other sources fetch the whole window at once.
    """
    reach, reach_days = source_reach(source)
    if source.per_date:
        return [Chunk(DateWindow.of(d), source.fetch, reach, reach_days) for d in staged]
    if reach is not Reach.RECENT or reach_days <= 0:
        return [Chunk(staged, source.fetch, reach, reach_days)]
    recent: DateWindow | None = staged
    older: DateWindow | None = None
    if source.history is not None and present is not None:
        oldest = present - dt.timedelta(days=reach_days - 1)
        if staged.start < oldest:
            older = DateWindow(staged.start, min(staged.end, oldest - dt.timedelta(days=1)))
            recent = DateWindow(oldest, staged.end) if staged.end >= oldest else None
    chunks = [Chunk(span, source.fetch, reach, reach_days) for span in recent.spans(reach_days)] if recent else []
    if older is not None and source.history is not None:
        chunks.append(Chunk(older, source.history.fetch, source.history.reach, lead_days=source.history.lead_days))
    return chunks


def stage_source(
    source: Source,
    client: StagingClient,
    storage: Storage,
    window: DateWindow,
    account_filter: tuple[str, ...] = (),
    *,
    run_id: str | None = None,
    dates: DateServer | None = None,
    settings: Settings | None = None,
) -> StageResult:
    """Fetch ``source`` over ``window`` (and the days its span adds), archive raw answers, validate, write the lake."""
    started = time.monotonic()
    before = client.stats.totals().requests
    reach, reach_days = source_reach(source)
    staged_window = source.staged_window(window, dates.oldest(reach, reach_days) if dates is not None else None)
    present = dates.present() if dates is not None else None
    history_from = (settings or Settings()).history_from
    if source.history is not None and history_from is not None and history_from < staged_window.start \
            and not any(storage.lake.partitions(t) for t in source.tables):
        # A new login's first run: its history from IBKR_HISTORY_FROM, once (the lake then has partitions).
        staged_window = DateWindow(history_from, staged_window.end)
    covered: dict[str, tuple[str, ...] | None | bool] = {t: False for t in source.tables}  # False: no piece yet
    with Spill(storage.root) as spill:
        for part in fetch_chunks(source, staged_window, present):
            chunk = part.window
            if dates is not None:
                dates.serve(part.served, part.reach, part.reach_days)
            inputs = FetchInputs(chunk, account_filter, _upstream(source, storage.lake, chunk), settings or Settings(),
                                 data_dir=storage.root)
            for piece in _fetch(source, part.fetch, client, storage, chunk, inputs, run_id):
                for _ in range(piece.cold_read_retries):
                    client.stats.note("cold_read_retries")
                for table in source.tables:
                    spill.add(table, _with_day(table, piece.frames[table], chunk))
                    covered[table] = _merge_covered(covered[table], piece.covered)
        staged = {t: _write_table(storage, t, spill, staged_window, _covered(covered[t]), run_id) for t in source.tables}
    requests, seconds = client.stats.totals().requests - before, time.monotonic() - started
    for result in staged.values():
        progress.info(
            "%-16s %s  %5d rows  %3d quarantined  %4d requests  %.1f s",
            result.table, staged_window, result.rows, result.quarantined, requests, seconds,
        )
    return StageResult(source.name, staged_window, staged, int(requests), round(seconds, 3))


def window_parts(storage: Storage, table: str, window: DateWindow) -> list[WindowPart]:
    """The lake partitions (and quarantines) of ``table`` over ``window``, plus those its source's span added.

    Every date of ``window`` must have a partition (one line naming what is missing); the earlier
    dates a fetch's span lands (``Source.span_days``) are loaded when they are there, and a source with
    history's first load takes every earlier lake partition (a first run's history).
    """
    lake = storage.lake
    missing = _missing_dates(lake, table, window)
    if missing:
        raise MissingUpstream(f"no lake partition of {table} for {missing}: stage {table} first")
    parts = []
    source = source_of(table)
    days = list(source.staged_window(window))
    if source.history is not None and not storage.warehouse.has_loaded(table):
        # The first load also takes what a first run's history landed before the window (IBKR_HISTORY_FROM).
        days = sorted({dt.date.fromisoformat(k) for k in lake.partitions(table) if k < str(days[0])} | set(days))
    for day in days:
        if day < window.start and not lake.partition_path(table, day).exists():
            continue
        quarantine = lake.quarantine_path(table, day)
        parts.append(WindowPart(partition_key_of(day), lake.partition_path(table, day),
                                quarantine if quarantine.exists() else None))
    return parts


def uncovered_dates(lake: Lake, table: str, through: dt.date) -> tuple[DateWindow, ...]:
    """Runs of dates between ``table``'s first lake partition and ``through`` that no fetch landed.

    For a table IBKR serves only a few days back (``Reach.RECENT``), such a gap will not come back
    from the Web API once it is older than the reach: a check names it so it gets closed another way.
    """
    landed = {dt.date.fromisoformat(k) for k in lake.partitions(table)}
    if not landed:
        return ()
    gaps: list[DateWindow] = []
    day, start = min(landed), None
    while day <= through:
        if day not in landed and start is None:
            start = day
        if day in landed and start is not None:
            gaps.append(DateWindow(start, day - dt.timedelta(days=1)))
            start = None
        day += dt.timedelta(days=1)
    if start is not None:
        gaps.append(DateWindow(start, through))
    return tuple(gaps)


def null_counts(paths: list[Path], columns: list[str]) -> dict[str, int]:
    """Nulls per column over Parquet files, from their statistics (a column without them is read alone).

    Reading the columns themselves would hold a whole window (a year of minute bars) in memory.
    """
    counts = {c: 0 for c in columns}
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        for column in columns:
            if column not in names:
                counts[column] += meta.num_rows
                continue
            index = names.index(column)
            stats = [meta.row_group(g).column(index).statistics for g in range(meta.num_row_groups)]
            if all(st is not None and st.has_null_count for st in stats):
                counts[column] += sum(st.null_count for st in stats)
            else:
                counts[column] += int(pl.read_parquet(path, columns=[column])[column].null_count())
    return counts


def load_table(
    table: str, storage: Storage, window: DateWindow, run_id: str, *, allow_shrink: bool = False
) -> LoadSummary:
    """Load ``table``'s lake partitions of ``window`` (and their quarantine) into DuckDB in ONE transaction."""
    started = time.monotonic()
    spec = spec_for(table)
    parts = window_parts(storage, table, window)
    warehouse = storage.warehouse
    waited_before = warehouse.lock_wait_seconds
    key = ", ".join(f'"{k}"' for k in spec.natural_key)
    with warehouse.connect() as con:  # opened once: schema, load and the checks below
        warehouse.ensure_schema_in(con, nightly_tables())
        # The load sets the connection's memory limit: the duplicate check below groups a year of minute bars under it too.
        results = warehouse.load_window(table, parts, run_id, allow_shrink=allow_shrink, con=con)
        described = con.execute(f'describe "{table}"').fetchall()
        (duplicates,) = con.execute(
            f'select count(*) from (select {key} from "{table}" group by all having count(*) > 1)'
        ).fetchone()
    required = list(spec.analyst_columns)
    missing = {c: 0 for c in required}
    if required:
        missing = null_counts([p.path for p in parts], required)
    uncovered = uncovered_dates(storage.lake, table, window.end) if spec.reach is Reach.RECENT else ()
    seconds = time.monotonic() - started
    progress.info("%-16s %s  loaded into DuckDB (%d rows, %.1f s)", table, window, sum(r.rows for r in results), seconds)
    return LoadSummary(
        table=table,
        window=window,
        rows=sum(r.rows for r in results),
        quarantined=sum(r.quarantined for r in results),
        columns={row[0]: str(row[1]) for row in described},
        rows_by_date={r.partition_key: r.rows for r in results},
        duplicate_keys=int(duplicates),
        lock_wait_seconds=round(warehouse.lock_wait_seconds - waited_before, 3),
        seconds=round(seconds, 3),
        missing_values=missing,
        uncovered=uncovered,
    )
