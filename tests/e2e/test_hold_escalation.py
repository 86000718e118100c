"""The hold escalation timer, on the payment timers' mechanism: a one-time schedule per hold, and a sweep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from functions.core import repository
from functions.holds.escalation import schedule_name
from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, review

pytestmark = pytest.mark.e2e


def escalation_schedule(stack, order_id: str, due: datetime) -> dict | None:
    client = stack.session.client("scheduler")
    try:
        return client.get_schedule(
            GroupName=stack.schedule_groups["TimersGroup"], Name=schedule_name(order_id, due)
        )
    except client.exceptions.ResourceNotFoundException:
        return None


def escalations(order_id: str) -> list:
    return [e for e in repository.load_aggregate(order_id).events if e.type == "hold.escalated"]


def held(oms, stack) -> tuple[str, str, datetime]:
    answer = post_and_hold(oms, stack, order_body([(new_sku(), 1, "8000.00")]))
    due = datetime.fromisoformat(oms.order(answer["order_id"])["hold"]["escalate_at"])
    return answer["order_id"], answer["execution_arn"], due


def test_a_hold_nobody_decides_is_escalated_by_its_schedule_at_the_due_time(oms, stack):
    order_id, execution_arn, due = held(oms, stack)
    schedule = escalation_schedule(stack, order_id, due)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["Target"]["Arn"].endswith(":function:HoldEscalationFunction")

    stack.clock.advance_to(due - timedelta(seconds=1))
    stack.settle()
    assert escalations(order_id) == []
    stack.clock.advance_to(due)
    stack.settle()

    (escalated,) = escalations(order_id)
    assert (escalated.at, escalated.actor) == (due, "timer:hold-escalation")
    assert oms.order(order_id)["hold"]["escalated_at"] is not None
    assert escalation_schedule(stack, order_id, due) is None  # fired and deleted
    assert review(oms, order_id, "reject", "escalated, refused").status == 200
    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"


def test_the_sweep_escalates_a_hold_whose_schedule_was_lost(oms, stack):
    order_id, _, due = held(oms, stack)
    stack.session.client("scheduler").delete_schedule(
        GroupName=stack.schedule_groups["TimersGroup"], Name=schedule_name(order_id, due)
    )
    stack.clock.advance_to(due - timedelta(seconds=1))  # missed sweeps fire now: not overdue yet
    stack.settle()
    assert escalations(order_id) == []

    stack.advance(5 * 60 + 1)  # the next rate(5 minutes) sweep

    (escalated,) = escalations(order_id)
    assert due <= escalated.at <= due + timedelta(minutes=5)
    sweeps = [
        f
        for f in stack.scheduler.fired
        if f.function == "HoldEscalationFunction" and f.kind == "rule" and f.at == escalated.at
    ]
    assert len(sweeps) == 1  # the schedule was gone: the sweep did it
    assert review(oms, order_id, "reject", "cleanup").status == 200


def test_a_hold_decided_in_time_is_not_escalated(oms, stack):
    order_id, execution_arn, due = held(oms, stack)
    assert review(oms, order_id, "reject", "checked in time").status == 200
    oms.wait(execution_arn)

    stack.clock.advance_to(due + timedelta(minutes=10))
    stack.settle()

    assert escalations(order_id) == []
    assert oms.order(order_id)["status"] == "REJECTED"
