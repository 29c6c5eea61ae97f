"""Seeded, reproducible fault injection: the decision depends only on the request identity.

For each (seed, method, path+query, n) -- n being how many times this exact request was seen -- one
uniform number from SHA-256 picks at most one fault, with cumulative probabilities in the order
5xx, timeout, malformed, drop_session, 429. Flex's Warn 1001 is decided the same way on its own
counters (``flex_warning``).
"""

from __future__ import annotations

import hashlib
import threading

from ibkr_pipelines.simulator.config import FaultConfig

KINDS = ("5xx", "timeout", "malformed", "drop_session", "429")


def _uniform(*parts: object) -> tuple[float, int]:
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64, h[8]


class FaultInjector:
    """Decides, per request, which fault (if any) to inject under the current FaultConfig."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.config = config
        self._seen: dict[tuple[str, str], int] = {}

    def set_config(self, config: FaultConfig) -> None:
        """Replace the configuration and restart the per-request counters."""
        with self._lock:
            self.config = config
            self._seen = {}

    def decide(self, method: str, target: str, scopes: list[str], key: str) -> tuple[str | None, int]:
        """The fault kind for this request (or None) and, for 5xx, the status to answer."""
        cfg = self.config
        if not cfg.active:
            return None, 0
        if cfg.only_scope is not None and cfg.only_scope not in scopes and cfg.only_scope != key:
            return None, 0
        with self._lock:
            n = self._seen.get((method, target), 0)
            self._seen[(method, target)] = n + 1
        u, byte = _uniform(cfg.seed, method, target, n)
        edge = 0.0
        for kind, p in zip(KINDS, (cfg.p_5xx, cfg.p_timeout, cfg.p_malformed, cfg.p_drop_session, cfg.p_429)):
            edge += p
            if u < edge:
                return kind, (500, 502, 503)[byte % 3] if kind == "5xx" else 0
        return None, 0

    def flex_warning(self, target: str) -> bool:
        """Whether this Flex request (path+query) answers Warn 1001 under ``p_flex_1001``, seeded as ``decide``."""
        cfg = self.config
        if cfg.p_flex_1001 <= 0:
            return False
        with self._lock:
            n = self._seen.get(("FLEX", target), 0)
            self._seen[("FLEX", target)] = n + 1
        return _uniform(cfg.seed, "FLEX", target, n)[0] < cfg.p_flex_1001
