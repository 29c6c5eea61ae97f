"""What stands before every Account Management handler: the AM rate limits, scheduled downtime, counters.

The server calls ``admit`` once the access token and scope passed (oauth2_gate): 429 above the limits
(am_limits.py), then 503 inside the route's downtime (am_downtime.py) on the simulated clock, else the
handler runs. Handlers count what they serve through ``count``; a refusal a handler raises
(am_body.AmRefusal) is counted by its reason (``refused``, called by the server). ``stats()`` is
``Simulator.stats()["account_management"]``: counts only, never a token, a request body or a document.

Guesses (reference §3.1 gives the statuses, not the bodies): the 429 and 503 are problem+json like every
other AM error, with their own ``detail``; the limits are judged before the downtime (a gateway in front
of the service counts first); a refused request neither reaches nor counts in its handler.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from ibkr_pipelines.simulator.am_limits import AmLimiter
from ibkr_pipelines.simulator.am_routes import AmRoute
from ibkr_pipelines.simulator.api import Reply
from ibkr_pipelines.simulator.clock import NEW_YORK
from ibkr_pipelines.simulator.limits import endpoint_key
from ibkr_pipelines.simulator.oauth2_gate import problem

# guess: texts of the 429s and the 503 (IBKR's are not public).
THROTTLED = {
    "per_endpoint": "Too many requests: at most 10 requests per second to one endpoint (reference: 10 req/s per "
                    "endpoint)",
    "per_master": "Too many requests: at most 600 requests per minute for one master account",
}
DOWNTIME = "scheduled maintenance: {name} are unavailable {text}; available again at {back}"


class AmGuard:
    """Thread-safe: the AM limiter and the ``account_management`` counters of one simulator."""

    def __init__(self, limiter: AmLimiter | None = None) -> None:
        self.limiter = limiter or AmLimiter()
        self._lock = threading.Lock()
        self.reset_stats()

    def admit(self, route: AmRoute, method: str, path: str, client_id: str, arrival: float,
              sim_now: datetime.datetime) -> Reply | None:
        """None to run the handler, or the 429 or 503 problem+json (``path`` relative to /gw/api/v1)."""
        endpoint = endpoint_key(method, path)
        broken = self.limiter.arrive(client_id, endpoint, arrival)
        down = route.downtime if broken is None else None
        if down is not None and not down.down(sim_now):
            down = None
        with self._lock:
            self._requests[endpoint] = self._requests.get(endpoint, 0) + 1
            if broken is not None:
                self._counts["throttled"] += 1
                self._throttled[broken] += 1
            elif down is not None:
                self._counts["downtime"] += 1
        if broken is not None:
            return problem(429, THROTTLED[broken])
        if down is not None:
            back = down.back(sim_now) or sim_now
            return problem(503, DOWNTIME.format(name=down.name, text=down.text,
                                                back=back.astimezone(NEW_YORK).isoformat(timespec="minutes")))
        return None

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to a handler's counter (e.g. ``documents``, ``document_bytes``)."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def refused(self, reason: str) -> None:
        """Count a handler's refusal by its reason (e.g. ``range_too_long``)."""
        with self._lock:
            self._refusals[reason] = self._refusals.get(reason, 0) + 1

    def stats(self) -> dict[str, Any]:
        """Requests per endpoint, 429s (``throttled``, and ``throttled_by`` limit), 503s (``downtime``),
        handler counters (``documents``, ``document_bytes``, ...) and handler refusals by reason."""
        with self._lock:
            return (dict(self._counts) | {"requests": dict(self._requests), "throttled_by": dict(self._throttled),
                                          "refusals": dict(self._refusals)})

    def reset_stats(self) -> None:
        """Forget the counters and the rate windows."""
        with self._lock:
            self._requests: dict[str, int] = {}
            self._counts: dict[str, int] = {"throttled": 0, "downtime": 0, "documents": 0, "document_bytes": 0}
            self._throttled: dict[str, int] = {"per_endpoint": 0, "per_master": 0}
            self._refusals: dict[str, int] = {}
        self.limiter.reset()
