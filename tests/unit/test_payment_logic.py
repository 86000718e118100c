"""Payment decisions (functions/payment/logic.py): pure, checked status by status without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from functions.core.models.order_in import OrderIn, PaymentIn
from functions.core.models.orders import PaymentReceived, RuleHit
from functions.core.rules import PaymentRules
from functions.core.status import OrderStatus
from functions.core.timers import at_expression
from functions.payment.logic import (
    TIMEOUT_CODE,
    ParkAction,
    PaymentAction,
    TimerAction,
    decide_park,
    decide_payment,
    decide_timer,
    pay_deadline,
)
from tests.factories import order_body, stored_order

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=30)
S = OrderStatus


def order(status: OrderStatus = S.AWAITING_PAYMENT, paid: str = "unpaid", **fields):
    body = order_body(
        payment={"status": paid} if paid == "unpaid" else {"status": "paid", "payment_id": "P0"}
    )
    base, _ = stored_order(body, NOW - timedelta(minutes=1))
    return base.model_copy(update={"status": status, "pay_deadline": DEADLINE, **fields})


def payment(payment_id: str = "PAY-1") -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, amount=Decimal("10.00"), paid_at=NOW, received_at=NOW)


RECEIVED = payment("PAY-1")
TIMEOUT_CANCEL = RuleHit(code=TIMEOUT_CODE, message="not paid")


# ---------------------------------------------------------------- deadline and expression


def test_deadline_uses_the_platform_timeout_or_the_default():
    rules = PaymentRules(timeout_minutes=30, timeout_minutes_by_platform={"jd": 15, "pdd": 1440})
    assert pay_deadline(NOW, "jd", rules) == NOW + timedelta(minutes=15)
    assert pay_deadline(NOW, "pdd", rules) == NOW + timedelta(days=1)
    assert pay_deadline(NOW, "tmall", rules) == NOW + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("moment", "expression"),
    [
        (datetime(2026, 3, 1, 12, 30, tzinfo=UTC), "at(2026-03-01T12:30:00)"),
        (datetime(2026, 3, 1, 12, 30, 0, 1, tzinfo=UTC), "at(2026-03-01T12:30:01)"),  # never early
        (datetime(2026, 3, 1, 20, 30, tzinfo=UTC).astimezone(), "at(2026-03-01T20:30:00)"),
    ],
)
def test_at_expression_is_utc_whole_seconds_never_before_the_moment(moment, expression):
    assert at_expression(moment) == expression


# ---------------------------------------------------------------- the order body


def test_payment_section_defaults_to_paid():
    body = order_body()
    assert OrderIn.model_validate(body).payment == PaymentIn(status="paid")


def test_unpaid_orders_carry_no_payment_details():
    with pytest.raises(ValidationError, match="unpaid order carries no payment_id"):
        PaymentIn(status="unpaid", payment_id="P1")
    with pytest.raises(ValidationError):
        PaymentIn.model_validate({"status": "pending"})


def test_fingerprint_of_a_body_without_payment_section_is_unchanged_by_the_default():
    body = order_body()
    explicit = {**body, "payment": {"status": "paid"}}
    unpaid = {**body, "payment": {"status": "unpaid"}}
    plain = OrderIn.model_validate(body).fingerprint()
    assert OrderIn.model_validate(explicit).fingerprint() == plain
    assert OrderIn.model_validate(unpaid).fingerprint() != plain  # a flip is a conflict, not a resend


# ---------------------------------------------------------------- the payment callback


@pytest.mark.parametrize("status", [S.RECEIVED, S.ON_HOLD, S.APPROVED, S.ALLOCATED])
def test_payment_before_parking_is_recorded(status):
    assert decide_payment(order(status), RECEIVED).action == PaymentAction.RECORD


def test_payment_of_a_waiting_order_is_applied():
    assert decide_payment(order(S.AWAITING_PAYMENT), RECEIVED).action == PaymentAction.APPLY


def test_the_same_payment_again_is_a_replay_whatever_the_status():
    for status in (S.PAID, S.SHIPPED, S.ALLOCATED):
        assert (
            decide_payment(order(status, payment_received=RECEIVED), RECEIVED).action == PaymentAction.REPLAY
        )
    arrived_paid = order(S.SHIPPED, paid="paid")
    assert decide_payment(arrived_paid, payment("P0")).action == PaymentAction.REPLAY


def test_a_second_payment_is_refunded():
    decision = decide_payment(order(S.PAID, payment_received=RECEIVED), payment("PAY-2"))
    assert (decision.action, decision.code) == (PaymentAction.REFUND, "ALREADY_PAID")
    arrived_paid = decide_payment(order(S.ALLOCATED, paid="paid"), payment("PAY-2"))
    assert (arrived_paid.action, arrived_paid.code) == (PaymentAction.REFUND, "ALREADY_PAID")


def test_payment_after_the_timeout_cancel_is_refunded_never_reopened():
    decision = decide_payment(order(S.CANCELLED, cancellation=TIMEOUT_CANCEL), RECEIVED)
    assert (decision.action, decision.code) == (PaymentAction.REFUND, "ORDER_CANCELLED")
    assert "pay deadline" in decision.message


@pytest.mark.parametrize("status", [S.REJECTED, S.FAILED])
def test_payment_of_a_closed_order_is_refunded(status):
    decision = decide_payment(order(status), RECEIVED)
    assert (decision.action, decision.code) == (PaymentAction.REFUND, "ORDER_CLOSED")


# ---------------------------------------------------------------- the wait step


def test_park_waits_before_the_deadline_and_cancels_after_it():
    assert decide_park(order(S.ALLOCATED), NOW) == ParkAction.WAIT
    assert decide_park(order(S.ALLOCATED), DEADLINE) == ParkAction.CANCEL
    assert decide_park(order(S.ALLOCATED), DEADLINE + timedelta(hours=1)) == ParkAction.CANCEL


def test_park_applies_a_payment_that_came_first_even_after_the_deadline():
    paid = order(S.ALLOCATED, payment_received=RECEIVED)
    assert decide_park(paid, NOW) == ParkAction.PAY
    assert decide_park(paid, DEADLINE + timedelta(hours=1)) == ParkAction.PAY


def test_a_retried_park_replaces_its_token_or_resumes_what_was_decided():
    assert decide_park(order(S.AWAITING_PAYMENT), NOW) == ParkAction.REWAIT
    assert decide_park(order(S.PAID, payment_received=RECEIVED), NOW) == ParkAction.RESUME_PAID
    assert decide_park(order(S.CANCELLED, cancellation=TIMEOUT_CANCEL), NOW) == ParkAction.RESUME_CANCELLED
    assert decide_park(order(S.CANCELLED), NOW) == ParkAction.ILLEGAL  # cancelled for another reason
    assert decide_park(order(S.FAILED), NOW) == ParkAction.ILLEGAL


# ---------------------------------------------------------------- the timer


def test_timer_cancels_a_waiting_order_from_its_deadline_on():
    assert (
        decide_timer(order(S.AWAITING_PAYMENT), DEADLINE - timedelta(seconds=1), True) == TimerAction.NOT_DUE
    )
    assert decide_timer(order(S.AWAITING_PAYMENT), DEADLINE, True) == TimerAction.CANCEL


@pytest.mark.parametrize("status", [S.RECEIVED, S.ON_HOLD, S.APPROVED, S.ALLOCATED])
def test_timer_leaves_orders_on_their_way_to_the_wait_step(status):
    assert decide_timer(order(status), DEADLINE, False) == TimerAction.IN_FLIGHT
    assert decide_timer(order(status, payment_received=RECEIVED), DEADLINE, False) == TimerAction.CLOSE


def test_timer_finishes_telling_the_execution_then_closes():
    paid = order(S.PAID, payment_received=RECEIVED)
    cancelled = order(S.CANCELLED, cancellation=TIMEOUT_CANCEL)
    assert decide_timer(paid, DEADLINE, True) == TimerAction.RESUME
    assert decide_timer(cancelled, DEADLINE, True) == TimerAction.RESUME
    assert decide_timer(paid, DEADLINE, False) == TimerAction.CLOSE
    assert decide_timer(cancelled, DEADLINE, False) == TimerAction.CLOSE
    for status in (S.SHIPPED, S.FAILED, S.REJECTED):
        assert decide_timer(order(status), DEADLINE, True) == TimerAction.CLOSE
