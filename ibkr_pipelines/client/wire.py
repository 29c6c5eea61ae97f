"""urllib3 connections that tell the pacer when a request is really on the wire.

``GatedAdapter`` passes the pacing gate before urllib3 takes over; between that and the socket write
lie urllib3's pool, perhaps a new connection, and as many GIL hand-overs as there are system calls.
These connections close that gap for the calling thread's ``Slot`` (see ``pacer``):
- after opening a new connection, a gate pass older than ``STALE_GATE_SECONDS`` is made again;
- once ``request`` has written the request line, headers and body, the slot's window time becomes
  that moment (``Slot.mark_sent``).
Outside a slot (control calls, tests) they behave exactly like urllib3's own.
"""

from __future__ import annotations

from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ibkr_pipelines.client.pacer import STALE_GATE_SECONDS, current_slot


class _MarksSends:
    """Mixin for urllib3 connections: re-gate after a slow connect, mark the slot sent after the write."""

    def connect(self) -> None:
        """Open the connection, then pass the gate again if the last pass has gone stale meanwhile."""
        super().connect()  # type: ignore[misc]
        slot = current_slot()
        if slot is not None:
            slot.pass_gate(max_age=STALE_GATE_SECONDS)

    def request(self, *args: Any, **kwargs: Any) -> None:
        """Write the request, then record in the pacing windows that it went out now."""
        super().request(*args, **kwargs)  # type: ignore[misc]
        slot = current_slot()
        if slot is not None:
            slot.mark_sent()


class MarkingHTTPConnection(_MarksSends, HTTPConnection):
    """urllib3's HTTP connection, reporting its writes to the pacer."""


class MarkingHTTPSConnection(_MarksSends, HTTPSConnection):
    """urllib3's HTTPS connection, reporting its writes to the pacer."""


class MarkingHTTPConnectionPool(HTTPConnectionPool):
    """A pool of ``MarkingHTTPConnection``."""

    ConnectionCls = MarkingHTTPConnection


class MarkingHTTPSConnectionPool(HTTPSConnectionPool):
    """A pool of ``MarkingHTTPSConnection``."""

    ConnectionCls = MarkingHTTPSConnection


# For ``PoolManager.pool_classes_by_scheme``.
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {
    "http": MarkingHTTPConnectionPool,
    "https": MarkingHTTPSConnectionPool,
}
