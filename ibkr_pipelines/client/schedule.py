"""Where a request fits among the grants already reserved in its scopes (pure functions).

Grants are kept sorted per scope and a new request takes the EARLIEST start that every scope
accepts, even between reservations made earlier for later times. So a request that must wait for
its own slow endpoint (1 per 5 s, or a penalty box) never holds up the others behind it.

A start ``t`` fits a rate window (N per P seconds, safety margin s) when
- it is at least ``P / N`` from its neighbours (smooth spacing: no burst at start-up or after a pause);
- every run of N+1 consecutive grants that includes ``t`` spans at least ``P + s`` (so no window of
  P seconds ever holds more than N requests, even with some jitter on the way).
"""

from __future__ import annotations

from bisect import bisect_left, insort

from ibkr_pipelines.client.limits import RateWindow

# Tolerance for comparing times. Clock values are large (a faked or long-running monotonic clock
# reads ~1.8e9 s, where one double step is ~2.4e-7 s), so g + spacing - g can come out a hair short of
# spacing; with a 1e-9 tolerance every such candidate failed and requests were paced at 1 per window
# instead of N. 10 microseconds is far above that rounding and far below any pacing interval.
_EPS = 1e-5


def fits(grants: list[float], t: float, window: RateWindow, safety: float) -> bool:
    """True when a request starting at ``t`` keeps this window's rules with the sorted ``grants``."""
    spacing = window.seconds / window.count
    span = window.seconds + safety
    i = bisect_left(grants, t)
    if i > 0 and t - grants[i - 1] < spacing - _EPS:
        return False
    if i < len(grants) and grants[i] - t < spacing - _EPS:
        return False

    def merged(k: int) -> float:
        return grants[k] if k < i else (t if k == i else grants[k - 1])

    n = window.count
    for first in range(max(0, i - n), i + 1):
        last = first + n
        if last > len(grants):
            break
        if merged(last) - merged(first) < span - _EPS:
            return False
    return True


def earliest_start(
    not_before: float, scoped: list[tuple[list[float], tuple[RateWindow, ...]]], safety: float
) -> float:
    """The earliest start >= ``not_before`` that fits every (grants, windows) pair given."""
    candidates = {not_before}
    for grants, windows in scoped:
        for window in windows:
            spacing = window.seconds / window.count
            span = window.seconds + safety
            for g in grants:
                candidates.update((g + spacing, g + span))
    for t in sorted(c for c in candidates if c >= not_before):
        if all(fits(grants, t, w, safety) for grants, windows in scoped for w in windows):
            return t
    # Unreachable: the largest candidate lies past every grant by a full span in every scope.
    return max(candidates)


def place(grants: list[float], t: float) -> None:
    """Record a grant at ``t`` keeping the list sorted."""
    insort(grants, t)


def forget_before(grants: list[float], horizon: float) -> None:
    """Drop grants older than ``horizon`` (they can no longer share a window with a new request)."""
    cut = bisect_left(grants, horizon)
    del grants[:cut]
