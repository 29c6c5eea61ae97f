"""Answers of scarce endpoints reused by a re-run instead of asked again.

IBKR allows some endpoints one request per 15 minutes (every ``/pa`` endpoint, reference §2.7). A
night that crashed after such an answer arrived, and is re-run at once, would otherwise wait out the
window and spend the budget a second time. So staging wraps its client in a ``ReusingClient``: a
request whose endpoint allows one call per window of a minute or more is answered from the raw
archive when the same fetch (source and window) received a 200 to the very same request within
that window; anything else goes to IBKR. An answer older than its window is asked again: by then
asking costs nothing but the request, and IBKR's answer may have moved on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Callable, ContextManager, Mapping

from ibkr_pipelines.client.stats import RunStats
from ibkr_pipelines.land.raw_archive import RawArchive, request_key

# The progress logger: ingest shows it, so an operator sees why a re-run asked IBKR nothing.
log = logging.getLogger("ibkr_pipelines.progress")

# Endpoints whose pacing window is at least this long are worth an archive look-up before asking.
SCARCE_WINDOW_SECONDS = 60.0


def scarce_window(client: Any, method: str, path: str) -> float | None:
    """The pacing window (s) of an endpoint allowing one request per minute or longer, else None."""
    limits = getattr(client, "limits", None)
    scope = limits.endpoint_scope(method, path) if limits is not None else None
    longest = max((w.seconds for w in scope.windows if w.count == 1), default=0.0) if scope is not None else 0.0
    return longest if longest >= SCARCE_WINDOW_SECONDS else None


class ReusingClient:
    """A staging client that answers scarce requests from this fetch's recent archived answers."""

    def __init__(
        self,
        client: Any,
        archive: RawArchive,
        partition: str,
        tags: Mapping[str, str],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ) -> None:
        """Wrap ``client``; look in ``partition`` of ``archive`` for answers carrying ``tags``' source and window."""
        self.client = client
        self.wrapped = client  # what per-client caches key on (sources.login_accounts)
        self.archive = archive
        self.partition = partition
        self.source, self.window = tags.get("source", ""), tags.get("window", "")
        self.now = now
        self.reused = 0

    @property
    def stats(self) -> RunStats:
        """The wrapped client's counters."""
        stats: RunStats = self.client.stats
        return stats

    def recording(self, hook: Callable[..., None]) -> ContextManager[None]:
        """Record the wrapped client's answers (reused ones are already archived)."""
        recording: ContextManager[None] = self.client.recording(hook)
        return recording

    def _recent(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        """The archived answer to this request if one is younger than its pacing window, else ``_MISSING``."""
        window = scarce_window(self.client, method, path)
        if window is None:
            return _MISSING
        key = request_key(method, path, params, body)
        oldest = self.now() - dt.timedelta(seconds=window)
        for entry in reversed(self.archive.entries(self.partition)):
            if (entry.get("source") == self.source and entry.get("window") == self.window
                    and entry.get("status") == 200
                    and request_key(entry["method"], entry["path"], entry.get("params"), entry.get("body")) == key
                    and dt.datetime.fromisoformat(entry["recorded_at"]) >= oldest):
                content = self.archive.read(self.archive.root / self.partition / entry["file"])
                self.reused += 1
                log.info("reusing the answer to %s %s received at %s (IBKR allows one per %.0f s)",
                         method, path, entry["recorded_at"], window)
                return json.loads(content) if content.strip() else None
        return _MISSING

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET, from the archive when a recent answer to it is there."""
        found = self._recent("GET", path, params, None)
        return self.client.get(path, params=params) if found is _MISSING else found

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST, from the archive when a recent answer to it is there."""
        found = self._recent("POST", path, params, json)
        return self.client.post(path, json=json, params=params) if found is _MISSING else found


_MISSING = object()
