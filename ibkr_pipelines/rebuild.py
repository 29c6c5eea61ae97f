"""Rebuild tables from the raw archive, without calling IBKR.

Every answer a fetch received is archived with its source, window and run (``staging``). A
rebuild replays them: an ``ArchiveClient`` answers each request with the archived answers of the
same (method, path, params), in the order they were received, from the latest run that fetched
that source for that window; the source's own extractor then runs unchanged, and the rows go
through validation, the lake and the warehouse exactly as on the night. So a lake or a DuckDB file
that was lost, or a fix to an extractor, costs no IBKR request.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections import defaultdict, deque
from typing import Any, Callable, Iterator, Mapping

from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.config import Settings
from ibkr_pipelines.errors import IbkrPipelinesError
from ibkr_pipelines.land.lake import partition_key_of
from ibkr_pipelines.land.raw_archive import RawArchive, request_key
from ibkr_pipelines.schemas import Reach
from ibkr_pipelines.sources import SOURCES, Source, source_of
from ibkr_pipelines.staging import LoadSummary, Storage, load_table, stage_source
from ibkr_pipelines.windows import DateWindow

progress = logging.getLogger("ibkr_pipelines.progress")


class NotArchived(IbkrPipelinesError):
    """The raw archive lacks an answer a rebuild needs (that date was never fetched, or by older code)."""


class ArchiveClient:
    """An ``ApiClient`` answering from the raw archive of one source; also the rebuild's ``DateServer``."""

    def __init__(self, archive: RawArchive, source: Source) -> None:
        """Replay ``source``'s archived answers; ``serve`` picks the window (and the latest run of it)."""
        self.archive = archive
        self.source = source
        self.stats = RunStats()
        self.run_id = ""
        self._answers: dict[str, deque[dict[str, Any]]] = {}
        self._partition = ""

    def serve(self, window: DateWindow, reach: Reach, reach_days: int = 0) -> None:
        """Load the answers the latest run of this source received for ``window``."""
        partition = partition_key_of(window.start)
        entries = [
            e for e in self.archive.entries(partition)
            if e.get("source") == self.source.name and e.get("window") == str(window)
        ]
        if not entries:
            raise NotArchived(
                f"the raw archive has no answers of {self.source.name} for {window}: ingest that date instead"
            )
        self.run_id = entries[-1].get("run_id", "")
        answers: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for entry in entries:
            if entry.get("run_id", "") == self.run_id:
                answers[request_key(entry["method"], entry["path"], entry.get("params"), entry.get("body"))].append(entry)
        self._answers, self._partition = dict(answers), partition

    def oldest(self, reach: Reach, reach_days: int = 0) -> datetime.date | None:
        """Any date: the archive answers whatever was fetched."""
        return None

    def present(self) -> datetime.date | None:
        """Unknown: a replay fetches every window as the Web API answered it (Flex is not replayed)."""
        return None

    def _earlier_answer(self, key: str) -> dict[str, Any] | None:
        """The run's first answer to this request, archived with another window or another source.

        A run asks some things once and reuses the answer (the login's account listing, cached per
        client): the fetch that asked first archived it, so a rebuild of another window or source
        finds it there. (A run that listed more than once gets its first listing: the same "now".)
        """
        root = self.archive.root
        for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            for entry in self.archive.entries(folder.name):
                if (entry.get("run_id", "") == self.run_id
                        and request_key(entry["method"], entry["path"], entry.get("params"), entry.get("body")) == key):
                    return {**entry, "partition": folder.name}
        return None

    def _answer(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any = None) -> Any:
        key = request_key(method, path, params, body)
        queue = self._answers.get(key)
        if not queue:
            earlier = self._earlier_answer(key)
            if earlier is not None:
                self._answers[key] = queue = deque([earlier])
        if not queue:
            raise NotArchived(
                f"the raw archive of {self.source.name} ({self._partition}, run {self.run_id or '?'}) has no "
                f"{'further ' if queue is not None else ''}answer to {method} {path}: ingest that date instead"
            )
        entry = queue.popleft() if len(queue) > 1 else queue[0]  # the last answer serves any repeat
        self.stats.add(f"{method.upper()} {path}", requests=1)
        body = self.archive.read(self.archive.root / entry.get("partition", self._partition) / entry["file"])
        return json.loads(body) if body.strip() else None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The archived answer to this GET."""
        return self._answer("GET", path, params)

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """The archived answer to this POST."""
        return self._answer("POST", path, params, json)

    @contextlib.contextmanager
    def recording(self, hook: Callable[..., None]) -> Iterator[None]:
        """Nothing to record: these answers are already archived."""
        yield


def archived_windows(storage: Storage, source: Source) -> list[DateWindow]:
    """Every window the raw archive holds answers of ``source`` for, in date order."""
    root = storage.raw.root
    if not root.is_dir():
        return []
    found: set[str] = set()
    for folder in root.iterdir():
        if (folder / "index.jsonl").is_file():
            found.update(e["window"] for e in storage.raw.entries(folder.name) if e.get("source") == source.name)
    return sorted((DateWindow.from_keys(*w.split("..")) for w in found), key=lambda w: (w.start, w.end))


def rebuild_order(tables: list[str] | None) -> list[Source]:
    """The sources to replay for ``tables`` (all when None), upstream first."""
    if not tables:
        return [s for s in SOURCES.values() if s.nightly]
    ordered: list[Source] = []

    def want(source: Source) -> None:
        for upstream in source.upstream:
            want(source_of(upstream))
        if source not in ordered:
            ordered.append(source)

    for table in tables:
        want(source_of(table))
    return ordered


def rebuild(
    storage: Storage,
    tables: list[str] | None = None,
    window: DateWindow | None = None,
    *,
    run_id: str = "rebuild",
    settings: Settings | None = None,
) -> list[LoadSummary]:
    """Replay the archive into the lake and the warehouse for ``tables`` (with their upstream) over ``window``.

    ``settings`` says what targeted sources ask for (the watchlist's symbols): the same as on the
    night, so the replayed requests are the archived ones.
    """
    summaries: list[LoadSummary] = []
    for source in rebuild_order(tables):
        if window is not None and source.per_date:
            spans = [window]
        elif window is not None:
            # A window source was fetched in the spans the night chose: replay those that meet the window.
            spans = [w for w in archived_windows(storage, source) if w.start <= window.end and w.end >= window.start]
            if not spans:
                raise NotArchived(f"the raw archive holds no answers of {source.name} for {window}")
        else:
            spans = archived_windows(storage, source)
            if not spans:
                raise NotArchived(f"the raw archive holds no answers of {source.name}")
        client = ArchiveClient(storage.raw, source)
        for span in spans:
            stage_source(source, client, storage, span, run_id=run_id, dates=client, settings=settings)
            for table in source.tables:
                summaries.append(load_table(table, storage, span, run_id, allow_shrink=True))
        progress.info("%-16s rebuilt from the raw archive (%d window(s))", source.name, len(spans))
    return summaries
