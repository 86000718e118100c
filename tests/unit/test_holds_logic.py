"""Held orders as pure logic: where a decision leads, what the queue shows, when a hold is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.core.models.orders import Hold, Interception, ManualReview, RuleHit
from functions.core.status import OrderStatus
from functions.holds.logic import (
    ReviewDecisionIn,
    already_decided,
    callback_output,
    is_overdue,
    queue,
    refuse_review,
    status_after,
    summary,
)
from tests.factories import new_sku, order_body, stored_order

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _hold(resume="allocate", codes=("HIGH_VALUE",), since=T0, **extra) -> Hold:
    return Hold(
        source="review",
        reasons=[RuleHit(code=c, message=c.lower()) for c in codes],
        since=since,
        resume=resume,
        **extra,
    )


def _order(status=OrderStatus.ON_HOLD, hold=None, total="10.00", **fields):
    order, _ = stored_order(order_body([(new_sku(), 1, total)]), T0)
    return order.model_copy(update={"status": status, "hold": hold, **fields})


def test_approve_resumes_where_the_order_stopped_and_reject_ends_it():
    assert status_after("approve", _hold("allocate")) == OrderStatus.APPROVED
    assert status_after("approve", _hold("ship")) == OrderStatus.ALLOCATED
    assert status_after("approve", None) == OrderStatus.APPROVED
    assert status_after("reject", _hold("ship")) == OrderStatus.REJECTED


def test_callback_output_carries_decision_and_resume_point():
    assert callback_output("approve", _hold("ship")) == {"decision": "approve", "resume": "ship"}
    assert callback_output("reject", None) == {"decision": "reject", "resume": "allocate"}


def test_only_orders_on_hold_and_not_being_intercepted_can_be_reviewed():
    assert refuse_review(_order(hold=_hold())) is None
    refused = refuse_review(_order(status=OrderStatus.APPROVED))
    assert (refused.code, refused.status) == ("NOT_ON_HOLD", 409)
    pending = Interception(reason="r", action="cancel", actor="user:a", requested_at=T0)
    assert refuse_review(_order(hold=_hold(), interception=pending)).code == "INTERCEPTED"
    applied = pending.model_copy(update={"state": "applied"})
    assert refuse_review(_order(hold=_hold(), interception=applied)) is None


def test_a_resent_decision_is_recognised_only_when_it_is_the_applied_one():
    review = ManualReview(decision="approve", comment="", actor="user:a", at=T0)
    approved = _order(status=OrderStatus.APPROVED, hold=_hold(), manual_review=review)
    assert already_decided(approved, "approve")
    assert not already_decided(approved, "reject")
    assert not already_decided(_order(hold=_hold()), "approve")
    shipped = approved.model_copy(update={"status": OrderStatus.SHIPPED})
    assert not already_decided(shipped, "approve")  # moved on since: not a plain resend


def test_review_body_requires_a_reason_to_reject():
    assert ReviewDecisionIn(decision="approve").comment == ""
    assert ReviewDecisionIn(decision="reject", comment=" fraud ").comment == "fraud"
    with pytest.raises(ValidationError) as err:
        ReviewDecisionIn(decision="reject", comment="  ")
    assert err.value.errors()[0]["loc"] == ("comment",)
    with pytest.raises(ValidationError):
        ReviewDecisionIn(decision="approve", comment="x", extra=1)


def test_overdue_means_past_the_deadline_and_not_yet_escalated():
    due = _hold(escalate_at=T0 + timedelta(hours=4))
    assert not is_overdue(due, T0 + timedelta(hours=3, minutes=59))
    assert is_overdue(due, T0 + timedelta(hours=4))
    assert not is_overdue(due.model_copy(update={"escalated_at": T0}), T0 + timedelta(days=1))
    assert not is_overdue(_hold(), T0 + timedelta(days=365))  # no deadline
    assert not is_overdue(None, T0)


def test_queue_filters_by_reason_sorts_oldest_first_and_shows_no_personal_data():
    newer = _order(hold=_hold(codes=("HIGH_VALUE",), since=T0 + timedelta(minutes=5)), total="9000.00")
    older = _order(hold=_hold(codes=("HIGH_VALUE", "BUYER_REMARK"), since=T0))
    other = _order(hold=_hold(codes=("PRESALE",), since=T0 + timedelta(minutes=1)))
    moved_on = _order(status=OrderStatus.APPROVED, hold=_hold(since=T0 - timedelta(days=1)))
    orders = [newer, other, older, moved_on]

    assert [e.order_id for e in queue(orders, None, 10)] == [older.order_id, other.order_id, newer.order_id]
    assert [e.order_id for e in queue(orders, "HIGH_VALUE", 10)] == [older.order_id, newer.order_id]
    assert [e.order_id for e in queue(orders, "HIGH_VALUE", 1)] == [older.order_id]
    assert queue(orders, "BLACKLISTED_BUYER", 10) == []
    entry = queue([newer], None, 1)[0]
    assert str(entry.total) == "9000.00"
    assert not {"buyer", "shipping_address", "name", "phone"} & set(entry.model_dump())
    assert summary(queue(orders, None, 10)) == {"BUYER_REMARK": 1, "HIGH_VALUE": 2, "PRESALE": 1}
