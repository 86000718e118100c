"""Fires EventBridge Scheduler schedules and EventBridge scheduled rules locally, on the stack's clock.

moto stores schedules and rules but never fires them (docs/local-runtime.md). This scheduler reads
them through the ordinary APIs (`scheduler:ListSchedules/GetSchedule`, `events:ListRules/
ListTargetsByRule`), evaluates `at()`, `rate()` and `cron()` (oms/local/expressions.py) against the
injectable clock, invokes the target Lambda in-process (`RUNTIME.invoke`, by the function name in the
target ARN, with the schedule's Input), and deletes one-time schedules whose ActionAfterCompletion is
DELETE once they have fired, as the service does.

It runs as one thread sleeping on the clock until the next due time. On the real clock (`oms serve`)
that is wall time; on a VirtualClock (tests, `oms simulate`) the sleeping thread is one more timer, so
`advance_to_next_timer()` jumps straight to the next due schedule: a simulated day of timeouts runs in
seconds. Any change to schedules or rules (counted by a hook on moto's backends) wakes it to re-read.

Deliberate simplifications, all on the safe side for the code under test: a rate/cron rule whose
periods were skipped by a clock jump fires once, not once per missed period; FlexibleTimeWindow is
ignored (fires at the earliest moment); a failed one-time invocation is retried with backoff within
the schedule's RetryPolicy, then dropped (no dead-letter queue locally); only Lambda targets run.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from oms.local.clock import Clock, WakeSignal
from oms.local.expressions import Cron, Expression, ExpressionError, Rate, parse

_changes = {"generation": 0}
_changes_lock = threading.RLock()
# What each generation changed: (generation, (group, name)) for one schedule, (generation, None) for
# anything else (a rule, a group). A scheduler re-reads only the schedules changed since it last looked,
# not every schedule and rule (a 1,000-order run creates and deletes hundreds of one-time schedules).
_CHANGE_LOG_LIMIT = 10_000
_change_log: deque[tuple[int, tuple[str, str] | None]] = deque(maxlen=_CHANGE_LOG_LIMIT)
_change_listeners: list[Callable[[], None]] = []  # running schedulers' wake-ups


def _bump() -> None:
    """Something changed that the change hooks did not see: the next refresh reads everything."""
    with _changes_lock:
        _changes["generation"] += 1
        _change_log.append((_changes["generation"], None))
    _announce_change()


def _announce_change() -> None:
    for listener in list(_change_listeners):
        listener()


def generation() -> int:
    with _changes_lock:
        return _changes["generation"]


def changes_since(seen: int) -> tuple[int, set[tuple[str, str]] | None]:
    """The current generation and the schedules changed after `seen`; None: read everything again."""
    with _changes_lock:
        current = _changes["generation"]
        if current == seen:
            return current, set()
        if seen < 0 or not _change_log or _change_log[0][0] > seen + 1:
            return current, None
        changed: set[tuple[str, str]] = set()
        for number, key in _change_log:
            if number <= seen:
                continue
            if key is None:
                return current, None
            changed.add(key)
        return current, changed


@cache
def install_change_hooks() -> None:
    """Count every change to schedules and rules, and serialise moto's (unsynchronised) backends."""
    from moto.events.models import EventsBackend
    from moto.scheduler.models import EventBridgeSchedulerBackend

    mutating = {
        EventBridgeSchedulerBackend: (
            "create_schedule",
            "update_schedule",
            "delete_schedule",
            "create_schedule_group",
            "delete_schedule_group",
        ),
        EventsBackend: (
            "put_rule",
            "delete_rule",
            "enable_rule",
            "disable_rule",
            "put_targets",
            "remove_targets",
        ),
    }
    reading = {
        EventBridgeSchedulerBackend: ("get_schedule", "list_schedules", "list_schedule_groups"),
        EventsBackend: ("describe_rule", "list_rules", "list_targets_by_rule"),
    }

    one_schedule = {"create_schedule", "update_schedule", "delete_schedule"}

    def wrap(method: Callable[..., Any], changes: bool) -> Callable[..., Any]:
        signature = inspect.signature(method)

        def locked(*args: Any, **kwargs: Any) -> Any:
            with _changes_lock:
                result = method(*args, **kwargs)
                if changes:
                    _changes["generation"] += 1
                    key: tuple[str, str] | None = None
                    if method.__name__ in one_schedule:
                        named = signature.bind(*args, **kwargs).arguments
                        key = (str(named.get("group_name") or "default"), str(named["name"]))
                    _change_log.append((_changes["generation"], key))
            if changes:
                _announce_change()
            return result

        return locked

    from oms.local.moto_patches import patch_moto

    for changes, groups in ((True, mutating), (False, reading)):
        for backend, names in groups.items():
            for name in names:
                original = getattr(backend, name, None)  # patch_moto refuses a name moto lacks
                patch_moto(backend, name, wrap(original, changes) if original else None)


@dataclass
class Firing:
    """One invocation the scheduler made (kept for tests and `oms` reports)."""

    at: datetime
    kind: str  # "schedule" | "rule"
    name: str
    function: str | None
    ok: bool
    error: str | None = None


@dataclass
class _Entry:
    kind: str
    group: str | None
    name: str
    expression: Expression
    target_arn: str
    input: str | None
    enabled: bool = True
    delete_after: bool = False
    start: datetime | None = None
    end: datetime | None = None
    modified: Any = None
    retry_attempts: int = 185
    retry_max_age: float = 86400.0
    last_fired: datetime | None = None
    attempts: int = 0
    first_due: datetime | None = None
    retry_at: datetime | None = None
    done: bool = False
    arn: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.group, self.name)

    def due(self) -> datetime | None:
        if self.done or not self.enabled:
            return None
        if self.retry_at is not None:
            return self.retry_at
        after = self.last_fired
        if self.start is not None and (after is None or after < self.start):
            after = self.start - timedelta(microseconds=1)
        moment = self.expression.next_after(after)
        if moment is not None and self.end is not None and moment > self.end:
            return None
        return moment


class LocalScheduler:
    def __init__(
        self,
        session: Any,
        clock: Clock,
        invoke: Callable[[str, dict[str, Any]], Any],
        known_functions: Callable[[], set[str]],
        region: str,
        account: str,
    ) -> None:
        self.clock = clock
        self._invoke = invoke
        self._known_functions = known_functions
        self.region, self.account = region, account
        self._scheduler = session.client("scheduler")
        self._events = session.client("events")
        self._entries: dict[tuple[str, str | None, str], _Entry] = {}
        self._lock = threading.RLock()
        self._seen_generation = -1
        self._busy = False
        self._sleep_until = datetime.max.replace(tzinfo=UTC)
        self._stop = threading.Event()
        self._changed = WakeSignal()  # a schedule or rule changed, or the scheduler stops
        self._thread: threading.Thread | None = None
        self.fired: deque[Firing] = deque(maxlen=100_000)
        self.errors: list[str] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LocalScheduler:
        install_change_hooks()
        _change_listeners.append(self._changed.set)
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="oms-local-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._changed.set in _change_listeners:
            _change_listeners.remove(self._changed.set)
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------ what the stack asks

    def next_due(self) -> datetime | None:
        with self._lock:
            dues = [d for e in self._entries.values() if (d := e.due()) is not None]
        return min(dues) if dues else None

    def is_idle(self) -> bool:
        """Nothing firing, nothing due now, and every change to schedules seen."""
        if self._busy or self._seen_generation != generation():
            return False
        due = self.next_due()
        return due is None or due > self.clock.now()

    def run_due(self) -> int:
        """Fire everything due at the clock's current time (also what the thread does). Returns count."""
        with self._lock:
            self._busy = True
            try:
                self.refresh()
                now = self.clock.now()
                # Earliest first; at the same instant one-time schedules before rules (the sweep is the
                # backstop, so it runs after the timers it backs up).
                due = sorted(
                    (d, e.kind != "schedule", e.key)
                    for e in self._entries.values()
                    if (d := e.due()) is not None and d <= now
                )
                for _, _, key in due:
                    entry = self._entries.get(key)
                    if entry is not None:
                        self._fire(entry, now)
                return len(due)
            finally:
                self._busy = False

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._changed.clear()  # before reading: a change from here on wakes the sleep below
                self.refresh()
                due = self.next_due()
                now = self.clock.now()
                if due is not None and due <= now:
                    self.run_due()
                    continue
                if due is None:
                    self._changed.wait(1.0)  # nothing scheduled: until something is
                    continue
                self._sleep_until = due
                self.clock.sleep(
                    (due - now).total_seconds(), keep_waiting=self._nothing_changed, wake_on=self._changed
                )
            except Exception as exc:  # the scheduler must outlive any one bad schedule
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(0.05)

    def _nothing_changed(self) -> bool:
        """Keep sleeping: not stopped, no schedule changed, and the due time not reached (the clock may
        have moved between computing the sleep and starting it)."""
        return (
            not self._stop.is_set()
            and generation() == self._seen_generation
            and self.clock.now() < self._sleep_until
        )

    # ------------------------------------------------------------ reading moto

    def refresh(self) -> None:
        current, changed = changes_since(self._seen_generation)
        if current == self._seen_generation:
            return
        with self._lock:
            if changed is not None:  # only some schedules changed: read those
                for group, name in changed:
                    key: tuple[str, str | None, str] = ("schedule", group, name)
                    entry = self._schedule_entry(group, name, self._entries.get(key))
                    if entry is None:
                        self._entries.pop(key, None)
                    else:
                        self._entries[key] = entry
                self._seen_generation = current
                return
            seen: set[tuple[str, str | None, str]] = set()
            for summary in self._list_schedules():
                key = ("schedule", summary["GroupName"], summary["Name"])
                seen.add(key)
                known = self._entries.get(key)
                if known is None or known.modified != summary.get("LastModificationDate"):
                    entry = self._schedule_entry(summary["GroupName"], summary["Name"], known)
                    if entry is not None:
                        self._entries[key] = entry
            for rule, targets in self._list_rules():
                for target in targets:
                    key = ("rule", rule["Name"], target["Id"])
                    seen.add(key)
                    entry = self._rule_entry(rule, target, self._entries.get(key))
                    if entry is not None:
                        self._entries[key] = entry
            for key in list(self._entries):
                if key not in seen:
                    del self._entries[key]
            self._seen_generation = current

    def _list_schedules(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._scheduler.list_schedules(MaxResults=100, **kwargs)
            found += page.get("Schedules", [])
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def _list_rules(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        rules: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._events.list_rules(**kwargs)
            rules += [r for r in page.get("Rules", []) if r.get("ScheduleExpression")]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return [(rule, self._events.list_targets_by_rule(Rule=rule["Name"])["Targets"]) for rule in rules]

    def _schedule_entry(self, group: str, name: str, known: _Entry | None) -> _Entry | None:
        try:
            spec = self._scheduler.get_schedule(GroupName=group, Name=name)
        except ClientError:
            return None  # deleted between the list and the read
        now = self.clock.now()
        try:
            expression = parse(
                spec["ScheduleExpression"],
                timezone=spec.get("ScheduleExpressionTimezone") or "UTC",
                anchor=_anchor(known, now),
            )
        except ExpressionError as err:
            self.errors.append(f"schedule {group}/{name}: {err}")
            return None
        target = spec["Target"]
        retry = target.get("RetryPolicy") or {}
        entry = _Entry(
            kind="schedule",
            group=group,
            name=name,
            expression=expression,
            target_arn=target["Arn"],
            input=target.get("Input"),
            enabled=spec.get("State", "ENABLED") == "ENABLED",
            delete_after=spec.get("ActionAfterCompletion") == "DELETE",
            start=_utc(spec.get("StartDate")),
            end=_utc(spec.get("EndDate")),
            modified=spec.get("LastModificationDate"),
            retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
            retry_max_age=float(retry.get("MaximumEventAgeInSeconds", 86400)),
            arn=spec.get("Arn", ""),
        )
        if known is not None:
            entry.last_fired, entry.done = known.last_fired, known.done
        return entry

    def _rule_entry(
        self, rule: dict[str, Any], target: dict[str, Any], known: _Entry | None
    ) -> _Entry | None:
        expression_text = rule["ScheduleExpression"]
        if known is not None and known.extra.get("expression") == expression_text:
            known.enabled = rule.get("State", "ENABLED") == "ENABLED"
            known.target_arn, known.input = target["Arn"], target.get("Input")
            return known
        try:
            expression = parse(expression_text, anchor=self.clock.now())
        except ExpressionError as err:
            self.errors.append(f"rule {rule['Name']}: {err}")
            return None
        return _Entry(
            kind="rule",
            group=rule["Name"],
            name=target["Id"],
            expression=expression,
            target_arn=target["Arn"],
            input=target.get("Input"),
            enabled=rule.get("State", "ENABLED") == "ENABLED",
            arn=rule.get("Arn", ""),
            extra={"expression": expression_text},
        )

    # ------------------------------------------------------------ firing

    def _fire(self, entry: _Entry, now: datetime) -> None:
        scheduled = entry.due() or now
        function = _lambda_name(entry.target_arn)
        error: str | None = None
        if function is None or function not in self._known_functions():
            error = f"target {entry.target_arn} is not a function of the local stack"
        else:
            try:
                self._invoke(function, self._event(entry, now))
            except Exception as exc:  # the target failed: the service retries one-time schedules
                error = f"{type(exc).__name__}: {exc}"
        label = f"{entry.group}/{entry.name}"
        self.fired.append(Firing(now, entry.kind, label, function, error is None, error))
        if error is not None and entry.expression.one_time:
            entry.first_due = entry.first_due or scheduled
            entry.attempts += 1
            age = (now - entry.first_due).total_seconds()
            if entry.attempts <= entry.retry_attempts and age < entry.retry_max_age:
                entry.retry_at = now + timedelta(seconds=min(30 * 2 ** (entry.attempts - 1), 600))
                return
            self.errors.append(f"schedule {label} dropped after {entry.attempts} attempts: {error}")
        entry.retry_at, entry.first_due, entry.attempts = None, None, 0
        if not entry.expression.one_time:
            entry.last_fired = max(scheduled, now)  # periods skipped by a clock jump coalesce into this one
            if entry.due() is not None:
                return
        entry.done = True  # a one-time schedule, or a recurring one past its EndDate
        if entry.kind == "schedule" and entry.delete_after:
            with contextlib.suppress(ClientError):  # already deleted (by the target, or by hand)
                self._scheduler.delete_schedule(GroupName=entry.group, Name=entry.name)
            self._entries.pop(entry.key, None)

    def _event(self, entry: _Entry, now: datetime) -> dict[str, Any]:
        if entry.input:
            loaded: dict[str, Any] = json.loads(entry.input)
            return loaded
        if entry.kind == "schedule":
            return {}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [entry.arn],
            "detail": {},
        }


def _anchor(known: _Entry | None, now: datetime) -> datetime:
    """A schedule that was updated keeps the rhythm it started with."""
    if known is not None and isinstance(known.expression, Rate | Cron):
        return known.expression.anchor
    return now


def _lambda_name(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    return None


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)
