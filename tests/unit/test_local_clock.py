"""The virtual clock's sleepers: woken by the clock or by what they wait for, never by polling, and an
idle jump never lands on a sleeper whose wait is over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from oms.local.clock import VirtualClock, WakeSignal
from oms.local.stack import WAIT_BOUND_SECONDS

START = datetime(2026, 3, 1, tzinfo=UTC)


def _sleeping(
    clock: VirtualClock, seconds: float, keep_waiting: Callable[[], bool] = lambda: True, **kwargs: object
) -> threading.Thread:
    """A thread sleeping on the clock, returned once its sleep is registered (its first look)."""
    registered = threading.Event()

    def looking() -> bool:
        registered.set()
        return keep_waiting()

    kwargs["keep_waiting"] = looking
    thread = threading.Thread(target=clock.sleep, args=(seconds,), kwargs=kwargs, daemon=True)
    thread.start()
    assert registered.wait(WAIT_BOUND_SECONDS)
    return thread


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_BOUND_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_a_sleeper_ends_when_the_clock_passes_its_deadline_and_not_before() -> None:
    clock = VirtualClock(START)
    sleeper = _sleeping(clock, 60)
    assert clock.next_timer() == START + timedelta(seconds=60)
    clock.advance_to(START + timedelta(seconds=59))
    sleeper.join(0.05)
    assert sleeper.is_alive()
    clock.advance_to(START + timedelta(seconds=60))
    sleeper.join(WAIT_BOUND_SECONDS)
    assert not sleeper.is_alive()
    assert clock.next_timer() is None
    assert not clock.waking()


def test_sleepers_do_not_poll_while_the_clock_stands_still() -> None:
    clock = VirtualClock(START)
    calls = [0]

    def keep_waiting() -> bool:
        calls[0] += 1
        return True

    sleepers = [_sleeping(clock, 60 + n, keep_waiting=keep_waiting) for n in range(50)]
    looked = calls[0]
    time.sleep(0.3)  # a polling sleeper looked several times in this while
    assert calls[0] == looked
    clock.advance(3600)
    for sleeper in sleepers:
        sleeper.join(WAIT_BOUND_SECONDS)
    assert not any(s.is_alive() for s in sleepers)


def test_a_wake_signal_ends_the_sleep_at_once_and_takes_it_out_of_the_jump_targets() -> None:
    clock = VirtualClock(START)
    signal = WakeSignal()
    sleeper = _sleeping(clock, 30 * 86400, wake_on=signal)
    later = _sleeping(clock, 600)
    assert clock.next_timer() == START + timedelta(seconds=600)
    signal.set()
    sleeper.join(WAIT_BOUND_SECONDS)
    assert not sleeper.is_alive()
    assert clock.now() == START  # nothing moved the clock
    clock.advance(600)
    later.join(WAIT_BOUND_SECONDS)
    assert clock.next_timer() is None


def test_an_idle_jump_never_lands_on_a_sleeper_whose_wait_is_over() -> None:
    clock = VirtualClock(START)
    waiting = {"stale": True}
    stale = _sleeping(clock, 60, keep_waiting=lambda: waiting["stale"])
    live = _sleeping(clock, 120)
    waiting["stale"] = False  # what it waited for ended, and nobody told the clock
    assert clock.next_timer() == START + timedelta(seconds=120)  # the stale timer is dropped
    stale.join(WAIT_BOUND_SECONDS)
    assert not stale.is_alive()  # and its sleeper woken, so it leaves
    assert clock.now() == START
    clock.advance_to_next_timer()
    live.join(WAIT_BOUND_SECONDS)
    assert clock.now() == START + timedelta(seconds=120)


def test_a_limit_is_never_a_jump_target_and_ends_when_the_clock_passes_it() -> None:
    clock = VirtualClock(START)
    limit = _sleeping(clock, 300, jump_target=False)
    assert clock.next_timer() is None
    clock.advance(299)
    limit.join(0.05)
    assert limit.is_alive()
    clock.advance(1)
    limit.join(WAIT_BOUND_SECONDS)
    assert not limit.is_alive()


def test_wake_re_checks_the_sleepers_and_ends_only_those_whose_wait_is_over() -> None:
    clock = VirtualClock(START)
    flags = {"first": True, "second": True}
    first = _sleeping(clock, 60, keep_waiting=lambda: flags["first"])
    second = _sleeping(clock, 60, keep_waiting=lambda: flags["second"])
    flags["first"] = False
    clock.wake()
    first.join(WAIT_BOUND_SECONDS)
    assert not first.is_alive()
    second.join(0.05)
    assert second.is_alive()
    clock.advance(60)
    second.join(WAIT_BOUND_SECONDS)


def test_call_at_runs_when_the_clock_passes_it_without_being_a_jump_target() -> None:
    clock = VirtualClock(START)
    ran: list[datetime] = []
    clock.call_at(START + timedelta(seconds=300), lambda: ran.append(clock.now()))
    assert clock.next_timer() is None
    clock.advance(299)
    assert ran == []
    clock.advance(2)
    assert ran == [START + timedelta(seconds=301)]
    clock.call_at(START, lambda: ran.append(START))  # a moment already passed: at once
    assert ran[-1] == START


def test_a_thread_parked_on_the_clock_is_told_apart_from_one_that_runs() -> None:
    clock = VirtualClock(START)
    sleeper = _sleeping(clock, 60)
    assert clock.is_sleeping(sleeper.ident)
    assert not clock.is_sleeping(threading.get_ident())
    clock.advance(60)
    sleeper.join(WAIT_BOUND_SECONDS)
    assert not clock.is_sleeping(sleeper.ident)
