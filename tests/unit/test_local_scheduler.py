"""The local scheduler (oms/local/scheduler.py) against in-memory stand-ins for the two AWS APIs it reads.

The stand-ins implement just what the scheduler calls (list/get/delete schedules, list rules and their
targets), so these tests run without moto and can use the real clock as `oms serve` does. The
scheduler on moto itself is covered by tests/e2e/test_payment.py and test_local_timers.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from oms.local import scheduler as scheduler_module
from oms.local.clock import SystemClock, VirtualClock
from oms.local.scheduler import LocalScheduler

START = datetime(2026, 1, 1, tzinfo=UTC)
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:Probe"


def _missing(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, operation)


class FakeScheduler:
    def __init__(self) -> None:
        self.schedules: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[str] = []

    def create(self, name: str, expression: str, group: str = "g", **extra: Any) -> None:
        target = {"Arn": extra.pop("target", FUNCTION), "RoleArn": "arn:aws:iam::1:role/r"}
        if "Input" in extra:
            target["Input"] = extra.pop("Input")
        if "RetryPolicy" in extra:
            target["RetryPolicy"] = extra.pop("RetryPolicy")
        self.schedules[(group, name)] = {
            "Name": name,
            "GroupName": group,
            "ScheduleExpression": expression,
            "Target": target,
            "State": extra.pop("State", "ENABLED"),
            "LastModificationDate": time.monotonic(),
            **extra,
        }
        scheduler_module._bump()

    def list_schedules(self, MaxResults: int = 100, NextToken: str | None = None) -> dict[str, Any]:
        return {
            "Schedules": [
                {k: s[k] for k in ("Name", "GroupName", "LastModificationDate")}
                for s in self.schedules.values()
            ]
        }

    def get_schedule(self, GroupName: str, Name: str) -> dict[str, Any]:
        if (GroupName, Name) not in self.schedules:
            raise _missing("GetSchedule")
        return dict(self.schedules[(GroupName, Name)])

    def delete_schedule(self, GroupName: str, Name: str) -> None:
        if self.schedules.pop((GroupName, Name), None) is None:
            raise _missing("DeleteSchedule")
        self.deleted.append(Name)
        scheduler_module._bump()


class FakeEvents:
    def __init__(self) -> None:
        self.rules: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, list[dict[str, Any]]] = {}

    def put(self, name: str, expression: str, target: dict[str, Any], state: str = "ENABLED") -> None:
        arn = f"arn:aws:events:us-east-1:123456789012:rule/{name}"
        self.rules[name] = {"Name": name, "Arn": arn, "ScheduleExpression": expression, "State": state}
        self.targets[name] = [target]
        scheduler_module._bump()

    def list_rules(self, NextToken: str | None = None) -> dict[str, Any]:
        return {"Rules": list(self.rules.values())}

    def list_targets_by_rule(self, Rule: str) -> dict[str, Any]:
        return {"Targets": self.targets[Rule]}


class FakeSession:
    def __init__(self) -> None:
        self.scheduler = FakeScheduler()
        self.events = FakeEvents()

    def client(self, name: str) -> Any:
        return {"scheduler": self.scheduler, "events": self.events}[name]


class Probe:
    """The target function: records (time, event); fails the first `failures` calls."""

    def __init__(self, clock: Any, failures: int = 0) -> None:
        self.clock, self.failures = clock, failures
        self.calls: list[tuple[datetime, dict[str, Any]]] = []

    def __call__(self, name: str, event: dict[str, Any]) -> None:
        self.calls.append((self.clock.now(), event))
        if self.failures:
            self.failures -= 1
            raise RuntimeError("target failed")


@pytest.fixture
def aws() -> FakeSession:
    return FakeSession()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


def make(aws: FakeSession, clock: Any, probe: Probe) -> LocalScheduler:
    return LocalScheduler(aws, clock, probe, lambda: {"Probe"}, "us-east-1", "123456789012")


@pytest.fixture
def running(aws: FakeSession, clock: VirtualClock) -> Iterator[tuple[LocalScheduler, Probe]]:
    probe = Probe(clock)
    local = make(aws, clock, probe).start()
    try:
        yield local, probe
    finally:
        local.stop()


def settle(local: LocalScheduler) -> None:
    deadline = time.monotonic() + 60  # generous: a loaded machine may not run the thread for a while
    while not local.is_idle():
        assert time.monotonic() < deadline, "scheduler never settled"
        time.sleep(0.002)


def advance(clock: VirtualClock, local: LocalScheduler, seconds: float) -> None:
    """Step the virtual clock through every due time up to now + seconds (as LocalStack.advance does)."""
    target = clock.now() + timedelta(seconds=seconds)
    settle(local)
    while (due := local.next_due()) is not None and due <= target:
        clock.advance_to(due)
        settle(local)
    clock.advance_to(target)
    settle(local)


def at(moment: datetime) -> str:
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


# ---------------------------------------------------------------- one-time schedules


def test_one_time_schedule_fires_at_its_moment_with_its_input_and_is_deleted(aws, clock, running):
    local, probe = running
    aws.scheduler.create(
        "pay-1",
        at(START + timedelta(minutes=30)),
        Input=json.dumps({"order_id": "o1"}),
        ActionAfterCompletion="DELETE",
    )
    advance(clock, local, 29 * 60)
    assert probe.calls == []
    advance(clock, local, 120)
    assert probe.calls == [(START + timedelta(minutes=30), {"order_id": "o1"})]
    assert aws.scheduler.deleted == ["pay-1"]
    assert local.fired[-1].ok


def test_one_time_schedule_without_delete_is_kept_and_fires_once(aws, clock, running):
    local, probe = running
    aws.scheduler.create("keep", at(START + timedelta(minutes=1)), ActionAfterCompletion="NONE")
    advance(clock, local, 3600)
    assert [event for _, event in probe.calls] == [{}]
    assert ("g", "keep") in aws.scheduler.schedules


def test_a_schedule_created_while_the_scheduler_sleeps_wakes_it(aws, clock, running):
    local, probe = running
    aws.events.put("sweep", "rate(1 hour)", {"Id": "t", "Arn": FUNCTION})
    settle(local)
    aws.scheduler.create("soon", at(START + timedelta(minutes=5)), ActionAfterCompletion="DELETE")
    settle(local)
    assert local.next_due() == START + timedelta(minutes=5)
    assert clock.next_timer() == START + timedelta(minutes=5)  # what advance_to_next_timer jumps to
    assert probe.calls == []
    clock.advance_to_next_timer()
    settle(local)
    assert [moment for moment, _ in probe.calls] == [START + timedelta(minutes=5)]


def test_disabled_and_finished_schedules_do_not_fire(aws, clock, running):
    local, probe = running
    aws.scheduler.create("off", at(START + timedelta(minutes=1)), State="DISABLED")
    aws.scheduler.create("ended", "rate(10 minutes)", EndDate=START + timedelta(minutes=15))
    advance(clock, local, 3600)
    assert len(probe.calls) == 1  # "ended" once, at 10 minutes; then past its EndDate
    assert probe.calls[0][0] == START + timedelta(minutes=10)


def test_failed_target_is_retried_with_backoff_then_succeeds(aws, clock):
    probe = Probe(clock, failures=2)
    local = make(aws, clock, probe).start()
    try:
        aws.scheduler.create("flaky", at(START + timedelta(minutes=1)), ActionAfterCompletion="DELETE")
        advance(clock, local, 3600)
    finally:
        local.stop()
    times = [moment for moment, _ in probe.calls]
    assert times == [
        START + timedelta(minutes=1),
        START + timedelta(minutes=1, seconds=30),
        START + timedelta(minutes=2, seconds=30),
    ]
    assert aws.scheduler.deleted == ["flaky"]
    assert [f.ok for f in local.fired] == [False, False, True]


def test_retries_are_bounded_by_the_retry_policy(aws, clock):
    probe = Probe(clock, failures=100)
    local = make(aws, clock, probe).start()
    try:
        aws.scheduler.create(
            "doomed",
            at(START + timedelta(minutes=1)),
            ActionAfterCompletion="DELETE",
            RetryPolicy={"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 86400},
        )
        advance(clock, local, 3600)
    finally:
        local.stop()
    assert len(probe.calls) == 3  # the attempt and two retries
    assert aws.scheduler.deleted == ["doomed"]
    assert any("dropped after 3 attempts" in e for e in local.errors)


# ---------------------------------------------------------------- recurring schedules and rules


def test_rate_rule_fires_every_period_and_sends_the_scheduled_event(aws, clock, running):
    local, probe = running
    aws.events.put("sweep", "rate(1 minute)", {"Id": "t", "Arn": FUNCTION})
    advance(clock, local, 5 * 60)
    assert [moment for moment, _ in probe.calls] == [START + timedelta(minutes=m) for m in range(1, 6)]
    event = probe.calls[0][1]
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sweep"]
    assert event["time"] == "2026-01-01T00:01:00Z"


def test_rule_input_replaces_the_event_and_disabled_rules_stay_quiet(aws, clock, running):
    local, probe = running
    aws.events.put("fixed", "rate(5 minutes)", {"Id": "t", "Arn": FUNCTION, "Input": '{"kind": "report"}'})
    aws.events.put("off", "rate(1 minute)", {"Id": "t", "Arn": FUNCTION}, state="DISABLED")
    advance(clock, local, 10 * 60)
    assert [event for _, event in probe.calls] == [{"kind": "report"}, {"kind": "report"}]


def test_a_clock_jump_coalesces_missed_periods(aws, clock, running):
    local, probe = running
    aws.events.put("sweep", "rate(1 minute)", {"Id": "t", "Arn": FUNCTION})
    settle(local)
    clock.advance(3600)  # straight over 60 periods
    settle(local)
    assert [moment for moment, _ in probe.calls] == [START + timedelta(hours=1)]
    assert local.next_due() == START + timedelta(hours=1, minutes=1)


def test_cron_schedule_in_its_time_zone(aws, clock, running):
    local, probe = running
    aws.scheduler.create("daily", "cron(0 9 * * ? *)", ScheduleExpressionTimezone="Asia/Shanghai")
    advance(clock, local, 2 * 86400)
    assert [moment for moment, _ in probe.calls] == [
        START + timedelta(hours=1),
        START + timedelta(days=1, hours=1),
    ]


def test_targets_outside_the_stack_and_bad_expressions_are_reported_not_fired(aws, clock, running):
    local, probe = running
    aws.scheduler.create("queue", at(START), target="arn:aws:sqs:us-east-1:123456789012:q")
    aws.scheduler.create("bad", "rate(5 weeks)")
    advance(clock, local, 60)
    assert probe.calls == []
    assert any("bad" in e and "rate(5 weeks)" in e for e in local.errors)
    assert not local.fired[-1].ok
    assert "not a function of the local stack" in (local.fired[-1].error or "")


# ---------------------------------------------------------------- real time (oms serve)


def test_on_the_real_clock_a_new_schedule_fires_on_time(aws):
    clock = SystemClock()
    probe = Probe(clock)
    local = make(aws, clock, probe).start()
    try:
        aws.events.put("sweep", "rate(1 hour)", {"Id": "t", "Arn": FUNCTION})  # keeps the thread asleep
        time.sleep(0.3)
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        aws.scheduler.create("soon", at(due), ActionAfterCompletion="DELETE")
        deadline = time.monotonic() + 120  # ends as soon as it fires; generous for a loaded machine
        while not probe.calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        local.stop()
    assert len(probe.calls) == 1
    fired_at = probe.calls[0][0]
    # at its time, not at the hourly rule's next sweep (the margin is for a loaded machine)
    assert due <= fired_at < due + timedelta(minutes=5)
    assert aws.scheduler.deleted == ["soon"]


def test_a_changed_schedule_is_read_alone_and_anything_else_reads_everything() -> None:
    """The change hooks on moto's backends log which schedule changed, so a refresh reads that one
    schedule instead of listing every schedule and rule again."""
    import boto3
    from moto import mock_aws

    scheduler_module.install_change_hooks()
    with mock_aws():
        client = boto3.client("scheduler", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        seen = scheduler_module.generation()
        client.create_schedule_group(Name="timers")
        assert scheduler_module.changes_since(seen)[1] is None  # a group: read everything
        seen = scheduler_module.generation()
        for name in ("pay-a", "pay-b"):
            client.create_schedule(
                Name=name,
                GroupName="timers",
                ScheduleExpression="at(2026-01-01T00:05:00)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": FUNCTION, "RoleArn": "arn:aws:iam::123456789012:role/r"},
            )
        client.delete_schedule(Name="pay-a", GroupName="timers")
        current, changed = scheduler_module.changes_since(seen)
        assert current == seen + 3
        assert changed == {("timers", "pay-a"), ("timers", "pay-b")}
        assert scheduler_module.changes_since(current) == (current, set())
        events.put_rule(Name="sweep", ScheduleExpression="rate(1 minute)")
        assert scheduler_module.changes_since(current)[1] is None  # a rule: read everything
