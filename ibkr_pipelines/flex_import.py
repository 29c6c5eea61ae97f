"""``ibkr-pipelines flex import FILE...``: Flex XML a user downloaded from IBKR's portal, landed like a fetched statement.

The files go through the same path as the Web Service's answers: the ``flex`` source's fetch, the
raw archive (each file archived as an answer of ``GET /flex-import/<name>``), the parser, validation
(bad rows to quarantine), the lake and the warehouse (upserts on each table's natural key), so
importing a file twice, or a file that overlaps a fetched window, changes nothing. A first pass over
each file finds the dates it covers (the window) and what it holds per table and section.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ibkr_pipelines.client.flex_client import FlexAccess
from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import ConfigError, IbkrPipelinesError
from ibkr_pipelines.flex.parser import parse_flex
from ibkr_pipelines.flex.sections import OTHER_ROWS
from ibkr_pipelines.sources import SOURCES
from ibkr_pipelines.staging import LoadSummary, Storage, load_table, stage_source
from ibkr_pipelines.windows import DateWindow

IMPORT_PATH = "/flex-import"  # the archive's name for an imported file: GET /flex-import/<file name>


class _Files:
    """The files as a Flex "service": each query id is a file, answered whole and archived like an answer."""

    def __init__(self, paths: dict[str, Path], hooks: list[Callable[..., None]]) -> None:
        self.paths = paths
        self.hooks = hooks

    def fetch_statement(self, query_id: str, **_: Any) -> str:
        """The file's XML (recorded by the active hooks, as the Web Service's answer would be)."""
        content = self.paths[query_id].read_bytes()
        for hook in list(self.hooks):
            hook("GET", f"{IMPORT_PATH}/{self.paths[query_id].name}", None, None, 200, content)
        return content.decode("utf-8")


class FileClient:
    """A staging client with no IBKR behind it: its Flex "queries" are the files to import."""

    def __init__(self, files: dict[str, Path]) -> None:
        """Serve ``files`` (``by_content``: keyed by their content hash, so the same file named twice is read once)."""
        self.stats = RunStats()
        self._hooks: list[Callable[..., None]] = []
        self._files = _Files(files, self._hooks)
        self.flex_access = FlexAccess("file:", "", tuple(files), max_span_days=None)

    def flex(self, token: str, *, base_url: str = "") -> _Files:
        """The files, as ``IbkrClient.flex`` gives the Web Service."""
        return self._files

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """No Client Portal behind an import."""
        raise IbkrPipelinesError(f"flex import reads files only; it cannot answer GET {path}")

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """No Client Portal behind an import."""
        raise IbkrPipelinesError(f"flex import reads files only; it cannot answer POST {path}")

    @contextlib.contextmanager
    def recording(self, hook: Callable[..., None]) -> Iterator[None]:
        """Archive every file read inside the block."""
        self._hooks.append(hook)
        try:
            yield
        finally:
            self._hooks.remove(hook)


def by_content(paths: list[Path]) -> dict[str, Path]:
    """The files keyed by a hash of their content: a file named twice (or copied) is one file."""
    return {hashlib.sha256(p.read_bytes()).hexdigest()[:16]: p for p in paths}


def survey(path: Path) -> tuple[DateWindow | None, Counter[str]]:
    """The dates a file's rows cover, and its rows per table (``flex_other_rows`` per section)."""
    first: dt.date | None = None
    last: dt.date | None = None
    counts: Counter[str] = Counter()
    for chunk in parse_flex(path):
        dates = chunk.frame.get_column("report_date").drop_nulls() if "report_date" in chunk.frame.columns else None
        if dates is not None and dates.len():
            first = min(first or dates.min(), dates.min())  # type: ignore[type-var]
            last = max(last or dates.max(), dates.max())  # type: ignore[type-var]
        if chunk.table == OTHER_ROWS and "section" in chunk.frame.columns:
            for section, n in chunk.frame.get_column("section").value_counts().iter_rows():
                counts[f"{OTHER_ROWS} ({section})"] += n
        else:
            counts[chunk.table] += chunk.frame.height
    return (DateWindow(first, last) if first is not None and last is not None else None), counts


def import_files(paths: list[Path], storage: Storage, *, run_id: str = "flex-import") -> tuple[list[LoadSummary], Counter[str]]:
    """Land ``paths`` into the flex tables over the dates they cover; the loads, and what the files held."""
    files = by_content(paths)  # a file named twice is surveyed and landed once
    windows, counts = [], Counter[str]()
    for path in files.values():
        window, held = survey(path)
        counts.update(held)
        if window is not None:
            windows.append(window)
    if not windows:
        return [], counts
    window = DateWindow(min(w.start for w in windows), max(w.end for w in windows))
    source = SOURCES["flex"]
    stage_source(source, FileClient(files), storage, window, run_id=run_id)
    return [load_table(table, storage, window, run_id, allow_shrink=True) for table in source.tables], counts


def run_flex_import(files: list[str]) -> int:
    """``ibkr-pipelines flex import``: land the files and print what landed per table and section; 0 on success."""
    paths = [Path(f).expanduser() for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError("FILE", f"no such file: {missing[0]}")
    settings = Settings.from_env()
    storage = Storage.at(settings.data_dir, lock_timeout=settings.warehouse_lock_seconds)
    summaries, counts = import_files(paths, storage)
    print(f"Imported {len(paths)} Flex file(s) into {settings.db_path}:")
    for summary in summaries:
        print(f"  {summary.table:<24} {summary.rows:>8} rows in the table for {summary.window}")
    print("The files held:")
    for name, n in sorted(counts.items()):
        print(f"  {name:<40} {n:>8} rows")
    sys.stdout.flush()
    return 0
