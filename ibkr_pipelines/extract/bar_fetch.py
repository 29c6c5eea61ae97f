"""Many bar series at once: a few chains in flight, answers handed on as they arrive, in bounded memory.

IBKR allows five history requests in flight (reference §5.2); each series is one chain of requests
(``bar_plan.fetch_bars``), so five chains run side by side, each in its own thread, and the pacer
keeps them within the limit whatever else runs. Answers go through a short queue to the one
consumer (staging's spill): a slow consumer stops the chains instead of piling answers up.

A contract IBKR refuses (unknown, not served) is one warning naming it; the other series land. Any
other failure (a competing brokerage session, IBKR unreachable) stops every chain and is raised once.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import polars as pl

from ibkr_pipelines.client.protocol import ApiClient
from ibkr_pipelines.client.stats import with_attribution
from ibkr_pipelines.extract.bar_plan import fetch_bars
from ibkr_pipelines.extract.history import BarSeries, ContractNotServed
from ibkr_pipelines.windows import DateWindow

log = logging.getLogger(__name__)

HISTORY_IN_FLIGHT = 5  # reference §5.2: /iserver/marketdata/history, 5 concurrent requests
_QUEUED_ANSWERS = 2 * HISTORY_IN_FLIGHT  # answers waiting for the consumer, at most (~1000 rows each)
_DONE = object()


@dataclass
class SeriesReport:
    """What a multi-series fetch met besides bars: the contracts IBKR refused, one line each."""

    refused: list[str] = field(default_factory=list)


def stream_series(
    client: ApiClient,
    series: Sequence[BarSeries],
    window: DateWindow,
    *,
    in_flight: int = HISTORY_IN_FLIGHT,
    report: SeriesReport | None = None,
) -> Iterator[pl.DataFrame]:
    """Yield the window's bars of every series, answer by answer, with up to ``in_flight`` chains running."""
    todo = iter(sorted(series, key=lambda s: (s.bar_size, s.conid, s.source)))
    todo_lock = threading.Lock()
    answers: queue.Queue[object] = queue.Queue(maxsize=_QUEUED_ANSWERS)
    stop = threading.Event()
    report = report if report is not None else SeriesReport()

    def put(item: object) -> bool:
        """Hand one item to the consumer unless it stopped listening."""
        while not stop.is_set():
            try:
                answers.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def chain() -> None:
        try:
            while not stop.is_set():
                with todo_lock:
                    one = next(todo, None)
                if one is None:
                    return
                try:
                    for frame in fetch_bars(client, one, window):
                        if not put(frame):
                            return
                except ContractNotServed as refused:
                    log.warning("%s; its %s bars are skipped, the other series land", refused, one.bar_size)
                    report.refused.append(str(refused))
        except BaseException as error:  # handed to the consumer, raised there once
            put(error)
        finally:
            put(_DONE)

    workers = [threading.Thread(target=with_attribution(chain), name=f"ibkr-bars-{k}", daemon=True)
               for k in range(max(1, min(in_flight, len(series))))]
    for worker in workers:
        worker.start()
    running = len(workers)
    try:
        while running:
            item = answers.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]
    finally:
        stop.set()
        for worker in workers:
            worker.join()
