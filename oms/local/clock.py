"""Clocks for the local runtime: real time for `oms serve`, virtual time for tests and `oms simulate`.

A virtual clock only moves when told to (`advance`) or, with `advance_when_idle`, to the next timer
when every waiter is asleep, so a simulated day of timeouts and retry back-offs runs in seconds.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(
        self, seconds: float, keep_waiting: Callable[[], bool] = lambda: True, *, jump_target: bool = True
    ) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(
        self, seconds: float, keep_waiting: Callable[[], bool] = lambda: True, *, jump_target: bool = True
    ) -> None:
        deadline = time.monotonic() + seconds
        while keep_waiting() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.2))


class VirtualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._cond = threading.Condition()
        self._timers: list[tuple[datetime, int]] = []  # deadlines of sleeping threads (a heap)
        self._ids = itertools.count()

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def advance(self, seconds: float) -> datetime:
        return self.advance_to(self.now() + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> datetime:
        with self._cond:
            if moment > self._now:
                self._now = moment
                self._cond.notify_all()
            return self._now

    def next_timer(self) -> datetime | None:
        with self._cond:
            return self._timers[0][0] if self._timers else None

    def advance_to_next_timer(self) -> bool:
        """Jump to the earliest sleeper's deadline; False when nobody sleeps."""
        deadline = self.next_timer()
        if deadline is None:
            return False
        self.advance_to(deadline)
        return True

    def wake(self) -> None:
        """Make sleepers re-check `keep_waiting` now (something they wait for happened)."""
        with self._cond:
            self._cond.notify_all()

    def sleep(
        self, seconds: float, keep_waiting: Callable[[], bool] = lambda: True, *, jump_target: bool = True
    ) -> None:
        """Sleep in virtual time. A sleeper that is not a `jump_target` (a time limit watching work that
        is still running) is never the timer an idle-jump goes to: on a loaded machine a jump can come
        while the engine is between states, and landing on a limit would end work that was not idle."""
        with self._cond:
            deadline = self._now + timedelta(seconds=seconds)
            if not jump_target:
                while self._now < deadline and keep_waiting():
                    self._cond.wait(timeout=0.05)
                return
            entry = (deadline, next(self._ids))
            heapq.heappush(self._timers, entry)
            try:
                while self._now < deadline and keep_waiting():
                    self._cond.wait(timeout=0.05)
            finally:
                self._timers.remove(entry)
                heapq.heapify(self._timers)
