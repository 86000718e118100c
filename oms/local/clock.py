"""Clocks for the local runtime: real time for `oms serve`, virtual time for tests and `oms simulate`.

A virtual clock only moves when told to (`advance`) or, with `advance_when_idle`, to the next timer
when every waiter is asleep, so a simulated day of timeouts and retry back-offs runs in seconds.

Sleepers on a virtual clock do not poll: each waits on its own event, which is set when the clock
passes its deadline, when a `WakeSignal` it sleeps on is set, or when `wake()` finds that what it waits
for happened. With hundreds of workflows waiting at once (a 1,000-order simulation), polling every
50 ms had them wake thousands of times a second and fight for the GIL (docs/local-runtime.md).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


def _always() -> bool:
    return True


class WakeSignal(threading.Event):
    """An event that also wakes the clock's sleepers waiting on it (`sleep(..., wake_on=signal)`)."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def listen(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def forget(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(
        self,
        seconds: float,
        keep_waiting: Callable[[], bool] = _always,
        *,
        jump_target: bool = True,
        wake_on: WakeSignal | None = None,
    ) -> None: ...

    def call_at(self, moment: datetime, action: Callable[[], None]) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(
        self,
        seconds: float,
        keep_waiting: Callable[[], bool] = _always,
        *,
        jump_target: bool = True,
        wake_on: WakeSignal | None = None,
    ) -> None:
        deadline = time.monotonic() + seconds
        while keep_waiting() and (left := deadline - time.monotonic()) > 0:
            if wake_on is None:
                time.sleep(min(left, 0.2))
            elif wake_on.wait(min(left, 0.2)):
                return

    def call_at(self, moment: datetime, action: Callable[[], None]) -> None:
        """Run `action` (in a timer thread) at `moment`."""
        timer = threading.Timer(max(0.0, (moment - self.now()).total_seconds()), action)
        timer.daemon = True
        timer.start()


class _Sleeper:
    __slots__ = ("action", "deadline", "done", "event", "jump_target", "keep_waiting", "woken")

    def __init__(
        self,
        deadline: datetime,
        keep_waiting: Callable[[], bool],
        jump_target: bool,
        action: Callable[[], None] | None = None,
    ) -> None:
        self.deadline = deadline
        self.keep_waiting = keep_waiting
        self.jump_target = jump_target
        self.action = action  # a timer without a thread (`call_at`): run when the clock passes it
        self.event = threading.Event()
        self.woken = False  # set, and its thread has not looked yet
        self.done = False


_Entry = tuple[datetime, int, _Sleeper]


class VirtualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()
        self._deadlines: list[_Entry] = []  # every sleeper and call_at timer, by deadline (a heap)
        self._targets: list[_Entry] = []  # the sleepers an idle jump may go to (a heap)
        self._live: set[_Sleeper] = set()  # sleepers whose thread is in `sleep`
        self._sleeping: dict[int, _Sleeper] = {}  # the same, by their threads' idents
        self._waking = 0  # sleepers woken whose thread has not resumed yet
        self._actions = 0  # call_at timers in `_deadlines`
        self._ids = itertools.count()

    def now(self) -> datetime:
        return self._now  # one reference, replaced whole under the lock: no lock to read it

    def advance(self, seconds: float) -> datetime:
        return self.advance_to(self.now() + timedelta(seconds=seconds))

    def advance_to(self, moment: datetime) -> datetime:
        actions: list[Callable[[], None]] = []
        with self._lock:
            if moment > self._now:
                self._now = moment
                while self._deadlines and self._deadlines[0][0] <= moment:
                    sleeper = heapq.heappop(self._deadlines)[2]
                    if sleeper.action is not None:
                        self._actions -= 1
                        actions.append(sleeper.action)
                    else:
                        self._wake_locked(sleeper)
            now = self._now
        for action in actions:
            action()
        return now

    def next_timer(self) -> datetime | None:
        """The earliest deadline of a sleeper still waiting for it. A sleeper whose wait has ended (its
        thread left, or what it waits for happened) is never the answer: it is dropped and woken."""
        while True:
            with self._lock:
                while self._targets and self._targets[0][2].done:
                    heapq.heappop(self._targets)
                if not self._targets:
                    return None
                sleeper = self._targets[0][2]
            if sleeper.keep_waiting():  # outside the lock: the predicate may read the clock
                return sleeper.deadline
            with self._lock:
                if self._targets and self._targets[0][2] is sleeper:
                    heapq.heappop(self._targets)
                self._wake_locked(sleeper)

    def advance_to_next_timer(self) -> bool:
        """Jump to the earliest sleeper's deadline; False when nobody sleeps."""
        deadline = self.next_timer()
        if deadline is None:
            return False
        self.advance_to(deadline)
        return True

    def is_sleeping(self, thread_ident: int | None) -> bool:
        """The thread is parked in `sleep` (not running, and not woken and about to)."""
        with self._lock:
            sleeper = self._sleeping.get(thread_ident) if thread_ident is not None else None
            return sleeper is not None and not sleeper.woken

    def waking(self) -> bool:
        """Some sleeper was woken and its thread has not resumed yet: the stack is not idle."""
        with self._lock:
            return self._waking > 0

    def wake(self) -> None:
        """Make sleepers re-check `keep_waiting` now (something they wait for happened): those whose
        wait is over are woken, the others sleep on undisturbed."""
        with self._lock:
            sleepers = [s for s in self._live if s.keep_waiting is not _always]
        ended = [s for s in sleepers if not s.keep_waiting()]
        with self._lock:
            for sleeper in ended:
                self._wake_locked(sleeper)

    def call_at(self, moment: datetime, action: Callable[[], None]) -> None:
        """Run `action` when the clock passes `moment` (in the thread that moves it), holding no thread
        meanwhile. Never a jump target; an action whose moment has passed runs now."""
        with self._lock:
            if moment > self._now:
                timer = _Sleeper(moment, _always, jump_target=False, action=action)
                heapq.heappush(self._deadlines, (moment, next(self._ids), timer))
                self._actions += 1
                return
        action()

    def sleep(
        self,
        seconds: float,
        keep_waiting: Callable[[], bool] = _always,
        *,
        jump_target: bool = True,
        wake_on: WakeSignal | None = None,
    ) -> None:
        """Sleep in virtual time until the clock passes the deadline or `keep_waiting` turns false (seen
        when `wake_on` is set, when `wake()` is called, or when an idle jump considers this sleeper).

        A sleeper that is not a `jump_target` (a time limit watching work that is still running) is never
        the timer an idle-jump goes to: on a loaded machine a jump can come while the engine is between
        states, and landing on a limit would end work that was not idle."""
        if wake_on is not None:
            signal = wake_on
            inner = keep_waiting

            def keep_waiting() -> bool:
                return not signal.is_set() and inner()

        with self._lock:
            deadline = self._now + timedelta(seconds=seconds)
            if self._now >= deadline:
                return
            sleeper = _Sleeper(deadline, keep_waiting, jump_target)
            entry = (deadline, next(self._ids), sleeper)
            heapq.heappush(self._deadlines, entry)
            if jump_target:
                heapq.heappush(self._targets, entry)
            self._live.add(sleeper)
            self._sleeping[threading.get_ident()] = sleeper
        listener = (lambda: self._wake(sleeper)) if wake_on is not None else None
        if wake_on is not None and listener is not None:
            wake_on.listen(listener)
        try:
            while keep_waiting():
                sleeper.event.wait()
                with self._lock:
                    if sleeper.woken:
                        sleeper.woken = False
                        self._waking -= 1
                    sleeper.event.clear()
                    if self._now >= deadline:
                        return
        finally:
            if wake_on is not None and listener is not None:
                wake_on.forget(listener)
            with self._lock:
                sleeper.done = True
                self._live.discard(sleeper)
                self._sleeping.pop(threading.get_ident(), None)
                if sleeper.woken:
                    sleeper.woken = False
                    self._waking -= 1
                self._compact_locked()

    def _wake(self, sleeper: _Sleeper) -> None:
        with self._lock:
            self._wake_locked(sleeper)

    def _wake_locked(self, sleeper: _Sleeper) -> None:
        if not sleeper.done and not sleeper.woken:
            sleeper.woken = True
            self._waking += 1
            sleeper.event.set()

    def _compact_locked(self) -> None:
        """Ended sleepers stay in the heaps until they reach the top; drop them when they pile up."""
        if len(self._targets) > 2 * len(self._live) + 1024:
            self._targets = [e for e in self._targets if not e[2].done]
            heapq.heapify(self._targets)
        if len(self._deadlines) > 2 * (len(self._live) + self._actions) + 4096:
            self._deadlines = [e for e in self._deadlines if not e[2].done]
            heapq.heapify(self._deadlines)
