"""What the pacer tells the operator while it holds a request back (on a fake clock: nothing sleeps)."""

from __future__ import annotations

import logging
import types

import pytest

from ibkr_pipelines.client import pacer as pacer_module
from ibkr_pipelines.client.limits import GLOBAL, Limits, RateWindow, Scope
from ibkr_pipelines.client.pacer import Pacer
from ibkr_pipelines.client.pacing_store import MemoryPacingStore


class _Clock:
    """Monotonic seconds that move only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _FakeClockStore(MemoryPacingStore):
    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock

    def now(self) -> float:
        return self.clock.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    """The pacer module's clock, faked."""
    fake = _Clock()
    monkeypatch.setattr(pacer_module, "time", types.SimpleNamespace(monotonic=fake.monotonic, sleep=fake.sleep))
    return fake


def test_a_long_wait_on_a_rate_window_is_one_line_naming_the_scope(clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    # /sso/validate's 1 per minute (reference §5.2): a second validation soon after the first waits ~a minute.
    validate = Scope("sso_validate", (RateWindow(1, 60.0),))
    limits = Limits(scopes={GLOBAL: Scope(GLOBAL, (RateWindow(10, 1.0),)), "sso_validate": validate},
                    rules=(), penalty_seconds=1.0, safety_seconds=0.01)
    pacer = Pacer(limits, _FakeClockStore(clock))
    scopes = [validate, limits.scope(GLOBAL)]
    caplog.set_level(logging.WARNING, logger=pacer_module.__name__)
    with pacer.slot(scopes) as first:
        assert first.waited == 0
    with pacer.slot([limits.scope(GLOBAL)]) as unrelated:
        assert unrelated.waited < 1
    clock.now += 5
    with pacer.slot(scopes) as second:
        assert 54 < second.waited < 56
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    assert "waiting 55 s for scope 'sso_validate'" in lines[0] and "1 per 60 s" in lines[0], lines


def test_short_waits_say_nothing(clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    trades = Scope("trades", (RateWindow(1, 5.0),))  # the trades endpoint's 1 per 5 s: every night waits on it
    limits = Limits(scopes={GLOBAL: Scope(GLOBAL, (RateWindow(10, 1.0),)), "trades": trades},
                    rules=(), penalty_seconds=1.0, safety_seconds=0.01)
    pacer = Pacer(limits, _FakeClockStore(clock))
    caplog.set_level(logging.WARNING, logger=pacer_module.__name__)
    waits = []
    for _ in range(4):
        with pacer.slot([trades, limits.scope(GLOBAL)]) as slot:
            waits.append(slot.waited)
    assert waits[0] == 0 and all(4.9 < w < 5.2 for w in waits[1:]), waits
    assert caplog.records == []


def test_a_long_wait_behind_the_runs_own_queue_on_a_short_window_says_nothing(
        clock: _Clock, caplog: pytest.LogCaptureFixture) -> None:
    # Six accounts' trades reads booked at once: the last waits ~25 s at 1 per 5 s, every night. Routine.
    trades = Scope("trades", (RateWindow(1, 5.0),))
    limits = Limits(scopes={GLOBAL: Scope(GLOBAL, (RateWindow(10, 1.0),)), "trades": trades},
                    rules=(), penalty_seconds=1.0, safety_seconds=0.01)
    store = _FakeClockStore(clock)
    pacer = Pacer(limits, store)
    queued = [clock.now + 5.02 * k for k in range(5)]  # what five other threads of the run booked ahead
    store.transact(lambda state, _now: state.scope("trades").grants.extend(queued))
    caplog.set_level(logging.WARNING, logger=pacer_module.__name__)
    with pacer.slot([trades, limits.scope(GLOBAL)]) as slot:
        assert slot.waited > 20
    assert caplog.records == []
