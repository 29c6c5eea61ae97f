"""Test helper: how many timestamps the busiest window of a given length holds."""

from __future__ import annotations


def max_in_window(times: list[float], seconds: float) -> int:
    """Most timestamps in any half-open window of ``seconds`` (what a server counting arrivals sees)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
