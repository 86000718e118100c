"""Where the local runtime's CPU goes: a sampling profiler for a process with a thousand threads.

py-spy and cProfile see one thread or drown in 1,500 of them. This samples every thread's stack
(`sys._current_frames()`, one snapshot taken holding the GIL, no I/O while it walks them) a few times a
second. A thread blocked in a wait, a sleep or a lock (`with lock:`) is counted apart, by the line it
waits on; every other thread is running or waiting for the GIL, and is counted by where it is (its
innermost function, and every function on its stack). It also counts the threads by what they run, over time.

    python -m oms.local.profiling --out /tmp/profile.txt -- simulate --orders 200 --seed 1 --json

runs the `oms` command after `--` with the sampler on and writes the report when it ends (or on
Ctrl-C, or after `--seconds`).
"""

from __future__ import annotations

import argparse
import dis
import linecache
import os
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from types import FrameType

_TARGET = re.compile(r"\((.+)\)$")
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + "/"


# Where a thread blocks without the GIL: a wait on a lock, event or condition, a sleep, a socket.
_WAITS = (
    "threading.py:wait",
    "threading.py:_wait_for_tstate_lock",
    "queue.py:get",
    "selectors.py:select",
    "concurrent/futures/thread.py:_worker",  # an idle pool thread, in SimpleQueue.get
)
_SLEEPS = ("time.sleep(", ".wait(", "select(", ".accept(", ".acquire(")


_BEFORE_WITH = dis.opmap.get("BEFORE_WITH", -1)


def _is_waiting(frame: FrameType, where: str) -> bool:
    if where.startswith(_WAITS):
        return True
    if frame.f_lasti >= 0 and frame.f_code.co_code[frame.f_lasti] == _BEFORE_WITH:
        return True  # in a C __enter__: `with lock:` waiting for the lock
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno or 0)
    return any(call in line for call in _SLEEPS)


def _where(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    for marker in ("site-packages/", _ROOT, "/lib/python3.11/", "/lib/python3.12/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{code.co_name}"


def _caller(frame: FrameType) -> str:
    """The nearest frame outside the standard library: who called into it."""
    walker = frame.f_back
    while (
        walker is not None
        and "site-packages" not in walker.f_code.co_filename
        and (_ROOT not in walker.f_code.co_filename)
    ):
        walker = walker.f_back
    return f"{_where(walker)}:{walker.f_lineno}" if walker is not None else "?"


def _kind(name: str) -> str:
    match = _TARGET.search(name)
    return match.group(1) if match else re.sub(r"[-_]?\d+$", "", name)


class Sampler:
    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.waiting: Counter[str] = Counter()  # blocked threads, by kind and the line they wait on
        self.callers: defaultdict[str, Counter[str]] = defaultdict(Counter)  # innermost -> its callers
        self.self_cpu: Counter[str] = Counter()  # innermost frame
        self.total_cpu: Counter[str] = Counter()  # any frame of the stack (once per stack)
        self.thread_cpu: Counter[str] = Counter()  # running threads by what they run
        self.timeline: list[tuple[float, int, float, Counter[str]]] = []  # t, threads, cpu, kinds
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oms-profiler", daemon=True)
        self._started = time.monotonic()
        self._cpu0 = sum(os.times()[:2])

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        next_timeline = 0.0
        while not self._stop.wait(self.interval):
            self._sample()
            now = time.monotonic() - self._started
            if now >= next_timeline:
                kinds = Counter(_kind(t.name) for t in threading.enumerate())
                cpu = sum(os.times()[:2]) - self._cpu0
                self.timeline.append((now, threading.active_count(), cpu, kinds))
                next_timeline = now + 5.0

    def _sample(self) -> None:
        frames = sys._current_frames()  # one snapshot, taken holding the GIL: no I/O in this loop
        names = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in frames.items():
            name = names.get(ident)
            if name is None or ident == self._thread.ident:
                continue
            kind = _kind(name)
            where = _where(frame)
            if _is_waiting(frame, where):
                self.waiting[f"{kind} | {where}:{frame.f_lineno}"] += 1
                continue
            self.thread_cpu[kind] += 1
            self.self_cpu[where] += 1
            self.callers[where][_caller(frame)] += 1
            seen: set[str] = set()
            walker: FrameType | None = frame
            while walker is not None:
                seen.add(_where(walker))
                walker = walker.f_back
            for name in seen:
                self.total_cpu[name] += 1
        self.samples += 1

    def report(self, top: int = 40) -> str:
        wall = time.monotonic() - self._started
        cpu = sum(os.times()[:2]) - self._cpu0
        runnable = sum(self.thread_cpu.values()) or 1
        blocked = sum(self.waiting.values())
        lines = [
            f"wall {wall:.1f} s, process CPU {cpu:.1f} s; {self.samples} samples every {self.interval} s: "
            f"{runnable} of running (or GIL-waiting) threads, {blocked} of blocked threads",
            "",
            "running threads by kind (what the thread runs):",
        ]
        share = [(k, v, 100 * v / runnable) for k, v in self.thread_cpu.most_common(15)]
        lines += [f"  {v:8d} {p:5.1f} %  {k}" for k, v, p in share]
        for title, counter in (
            ("running threads by innermost function (self):", self.self_cpu),
            ("running threads by function anywhere on the stack (inclusive):", self.total_cpu),
        ):
            lines += ["", title]
            lines += [f"  {v:8d} {100 * v / runnable:5.1f} %  {k}" for k, v in counter.most_common(top)]
        lines += ["", "who calls the five largest innermost functions:"]
        for name, _ in self.self_cpu.most_common(5):
            callers = ", ".join(f"{k} {v}" for k, v in self.callers[name].most_common(4))
            lines.append(f"  {name}: {callers}")
        lines += ["", "blocked threads by kind and the line they wait on:"]
        lines += [f"  {v:8d} {100 * v / (blocked or 1):5.1f} %  {k}" for k, v in self.waiting.most_common(20)]
        lines += ["", "threads over time (wall s, threads, process CPU s, the five largest kinds):"]
        for at, count, used, kinds in self.timeline:
            largest = ", ".join(f"{k} {n}" for k, n in kinds.most_common(5))
            lines.append(f"  {at:7.1f} {count:6d} {used:8.1f}  {largest}")
        return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="where to write the report")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--seconds", type=float, default=0, help="stop the command after this long")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the oms command and its options")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    from oms.cli import main as oms_main

    sampler = Sampler(args.interval).start()
    if args.seconds:
        # A crawling run: write what was seen, then end the process (its threads are daemons).
        def give_up() -> None:
            time.sleep(args.seconds)
            sampler.stop()
            with open(args.out, "w") as out:
                out.write(sampler.report())
            os._exit(3)

        threading.Thread(target=give_up, daemon=True, name="oms-profiler-limit").start()
    code = 1
    try:
        code = oms_main(command)
    finally:
        sampler.stop()
        with open(args.out, "w") as out:
            out.write(sampler.report())
    return code


if __name__ == "__main__":
    sys.exit(main())
