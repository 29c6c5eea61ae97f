"""The narrow interface extractors use to call IBKR, so they never see sessions, pacing or retries."""

from __future__ import annotations

from typing import Any, Mapping, Protocol


class ApiClient(Protocol):
    """Calls the Client Portal API (paths relative to ``/v1/api``) and returns parsed JSON."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path``; the parsed JSON body, or ``None`` for 204 No Content."""
        ...

    def post(self, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """POST ``path`` with a JSON body; the parsed JSON body, or ``None`` for 204."""
        ...
