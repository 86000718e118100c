"""The local stack creates the timers template.yaml declares, and its scheduler fires moto's schedules."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_template_timers_exist_locally(stack):
    events = stack.session.client("events")
    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    sweep = rules["PaymentTimeoutFunctionPaymentSweep"]
    assert sweep["ScheduleExpression"] == "rate(1 minute)"
    assert sweep["State"] == "ENABLED"
    (target,) = events.list_targets_by_rule(Rule=sweep["Name"])["Targets"]
    assert target["Arn"].endswith(":function:PaymentTimeoutFunction")
    groups = [g["Name"] for g in stack.session.client("scheduler").list_schedule_groups()["ScheduleGroups"]]
    assert stack.schedule_groups["TimersGroup"] in groups


def test_the_sweep_rule_fires_every_virtual_minute(stack):
    before = [f for f in stack.scheduler.fired if f.function == "PaymentTimeoutFunction" and f.kind == "rule"]
    start = stack.clock.now()
    stack.advance(5 * 60)
    sweeps = [
        f
        for f in stack.scheduler.fired
        if f.function == "PaymentTimeoutFunction" and f.kind == "rule" and f not in before
    ]
    assert len(sweeps) == 5
    assert all(f.ok for f in sweeps)
    assert all(start < f.at <= start + timedelta(minutes=5) for f in sweeps)


def test_a_moto_schedule_fires_its_lambda_on_the_virtual_clock_and_is_deleted(stack):
    calls: list[tuple[Any, dict[str, Any]]] = []
    handler = lambda event, context: calls.append((stack.clock.now(), event))  # noqa: E731
    stack.runtime.handlers["ProbeFunction"] = (handler, stack.runtime.handlers["PaymentTimeoutFunction"][1])
    scheduler = stack.session.client("scheduler")
    group = f"probe-{uuid.uuid4().hex[:8]}"
    scheduler.create_schedule_group(Name=group)
    due = (stack.clock.now() + timedelta(minutes=90)).replace(microsecond=0)
    try:
        scheduler.create_schedule(
            Name="once",
            GroupName=group,
            ScheduleExpression=f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": "arn:aws:lambda:us-east-1:123456789012:function:ProbeFunction",
                "RoleArn": "arn:aws:iam::123456789012:role/probe",
                "Input": json.dumps({"hello": "timer"}),
            },
        )
        stack.advance(2 * 3600)
    finally:
        del stack.runtime.handlers["ProbeFunction"]
    assert calls == [(due, {"hello": "timer"})]
    assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
