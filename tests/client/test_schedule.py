"""The scheduler's invariants hold for any order of bookings: no window over its limit, smooth spacing."""

from __future__ import annotations

import random

from ibkr_pipelines.client.limits import RateWindow
from ibkr_pipelines.client.schedule import earliest_start, fits, forget_before, place
from tests.client.windows import max_in_window

SAFETY = 0.02


def test_random_bookings_across_two_scopes_keep_every_rule() -> None:
    rng = random.Random(42)
    fast, slow = RateWindow(10, 1.0), RateWindow(1, 5.0)
    global_grants: list[float] = []
    slow_grants: list[float] = []
    now = 0.0
    global_only: list[float] = []
    for _ in range(400):
        now += rng.expovariate(20)  # callers arrive faster than the limit allows
        scoped = [(global_grants, (fast,))]
        if rng.random() < 0.05:
            scoped.append((slow_grants, (slow,)))
        start = earliest_start(now, scoped, SAFETY)
        assert start >= now
        for grants, _ in scoped:
            place(grants, start)
        if len(scoped) == 1:
            global_only.append(start)
    float_noise = 1e-9
    assert max_in_window(global_grants, 1.0 + SAFETY - float_noise) <= 10
    assert max_in_window(slow_grants, 5.0 + SAFETY - float_noise) <= 1
    gaps = [b - a for a, b in zip(global_grants, global_grants[1:])]
    assert min(gaps) >= 0.1 - 1e-9
    # While demand exceeds the limit, the global timeline is full: slow-scope bookings far in the
    # future do not leave holes in front of them.
    busy_until = max(global_only)
    used = sum(1 for g in global_grants if g <= busy_until)
    assert used / (busy_until - global_grants[0]) > 0.97 * 10 / 1.02


def test_an_early_slot_between_future_bookings_is_used() -> None:
    window = RateWindow(10, 1.0)
    grants = [0.0, 5.0]  # someone booked 5.0 (waiting for another scope); 0.1..4.9 is free
    assert earliest_start(0.05, [(grants, (window,))], SAFETY) == 0.1
    assert fits(grants, 2.5, window, SAFETY)
    assert not fits(grants, 4.95, window, SAFETY), "too close to the booking at 5.0"


def test_old_grants_are_forgotten_only_past_the_window() -> None:
    grants = [1.0, 2.0, 3.0]
    forget_before(grants, 2.0)
    assert grants == [2.0, 3.0]


def test_spacing_holds_at_large_clock_values() -> None:
    # A monotonic clock after a long uptime (or under libfaketime) reads ~1.8e9 s; back to back
    # requests must still be spaced P/N apart, not a whole window (that was 1 per second for history).
    window = RateWindow(10, 1.0)
    now = 1_796_351_408.110_560_7
    grants: list[float] = []
    for _ in range(30):
        start = earliest_start(now, [(grants, (window,))], SAFETY)
        place(grants, start)
        now = start + 0.003  # the answer came back quickly
    assert grants[-1] - grants[0] < 3.5, "30 requests at 10/s take about 3 s"
    assert max_in_window(grants, 1.0 + SAFETY - 1e-5) <= 10
