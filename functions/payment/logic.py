"""Payment decisions, pure: an order (and a callback, a moment) in, what to do out. No boto3 here.

Every service call reads the order, asks one of these functions, and applies the answer with a
conditional write; when the write loses a race the service reads again and asks again. So the
decisions below are the whole policy, and the races are settled by DynamoDB, not by timing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from functions.core.models.order_in import Deposit
from functions.core.models.orders import Order, PaymentReceived
from functions.core.rules import PaymentRules
from functions.core.status import OrderStatus

# Statuses an unpaid order passes before the workflow parks it at AwaitPayment. A payment arriving
# then is recorded on the order without changing its status; the wait step applies it.
BEFORE_PARKING = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.ON_HOLD,
        OrderStatus.APPROVED,
        OrderStatus.BACKORDERED,  # waiting for stock (functions/allocate)
        OrderStatus.ALLOCATED,
    }
)
TIMEOUT_CODE = "PAYMENT_TIMEOUT"


def timeout_minutes(platform: str, rules: PaymentRules) -> int:
    return rules.timeout_minutes_by_platform.get(platform, rules.timeout_minutes)


def pay_deadline(received_at: datetime, platform: str, rules: PaymentRules) -> datetime:
    """The moment an unpaid order is cancelled: the OMS's receipt time plus the platform's timeout."""
    return received_at + timedelta(minutes=timeout_minutes(platform, rules))


def balance_deadline(deposit: Deposit, received_at: datetime, rules: PaymentRules) -> datetime:
    """定金/尾款: when the balance is due (the platform's date, else the strategy center's timeout)."""
    return deposit.balance_due_at or received_at + timedelta(hours=rules.balance_timeout_hours)


def amount_due(order: Order) -> Decimal:
    """What the payment callback must pay: the total, or the balance after a deposit."""
    deposit = order.payment.deposit
    return order.amounts.total - deposit.amount if deposit is not None else order.amounts.total


def timeout_cause(order: Order) -> str:
    deadline = order.pay_deadline.isoformat() if order.pay_deadline else "its deadline"
    what = f"the balance of order {order.order_id}" if order.payment.deposit else f"order {order.order_id}"
    return f"{what} was not paid by {deadline}: cancelled, reserved stock released"


def is_timeout_cancelled(order: Order) -> bool:
    return (
        order.status == OrderStatus.CANCELLED
        and order.cancellation is not None
        and order.cancellation.code == TIMEOUT_CODE
    )


# ---------------------------------------------------------------- the payment callback


class PaymentAction(StrEnum):
    APPLY = "apply"  # the execution waits: mark PAID, resume it
    RECORD = "record"  # not parked yet: record the payment; the wait step applies it
    REPLAY = "replay"  # the same payment again: answer as before, finish any unfinished resume
    REFUND = "refund"  # the order cannot take this payment: reject it and flag it for refund


class PaymentDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: PaymentAction
    code: str = ""  # for REFUND: why, as the API's error code
    message: str = ""


def decide_payment(order: Order, payment: PaymentReceived) -> PaymentDecision:
    """What a payment callback does to `order`. The amount was checked before (bad input, 422)."""
    if order.payment_received is not None:
        if order.payment_received.payment_id == payment.payment_id:
            return PaymentDecision(action=PaymentAction.REPLAY)
        return PaymentDecision(
            action=PaymentAction.REFUND,
            code="ALREADY_PAID",
            message=f"order {order.order_id} was already paid by {order.payment_received.payment_id}",
        )
    if order.payment.status == "paid":
        if order.payment.payment_id == payment.payment_id:
            return PaymentDecision(action=PaymentAction.REPLAY)
        return PaymentDecision(
            action=PaymentAction.REFUND,
            code="ALREADY_PAID",
            message=f"order {order.order_id} arrived paid; this payment is a second one",
        )
    if order.status == OrderStatus.AWAITING_PAYMENT:
        return PaymentDecision(action=PaymentAction.APPLY)
    if order.status in BEFORE_PARKING:
        return PaymentDecision(action=PaymentAction.RECORD)
    if order.status == OrderStatus.CANCELLED:
        why = "at its pay deadline" if is_timeout_cancelled(order) else ""
        return PaymentDecision(
            action=PaymentAction.REFUND,
            code="ORDER_CANCELLED",
            message=f"order {order.order_id} was cancelled {why}".rstrip()
            + "; the payment is flagged for refund",
        )
    return PaymentDecision(
        action=PaymentAction.REFUND,
        code="ORDER_CLOSED",
        message=f"order {order.order_id} is {order.status}; the payment is flagged for refund",
    )


# ---------------------------------------------------------------- the wait step (AwaitPayment)


class ParkAction(StrEnum):
    WAIT = "wait"  # ALLOCATED -> AWAITING_PAYMENT, keep the token
    PAY = "pay"  # paid before parking: ALLOCATED -> PAID, resume at once
    CANCEL = "cancel"  # parked after the deadline: cancel, release, fail the task with the timeout
    REWAIT = "rewait"  # a retried wait task: replace the stored token
    RESUME_PAID = "resume_paid"  # already PAID: succeed this task
    RESUME_CANCELLED = "resume_cancelled"  # already cancelled on timeout: fail this task
    ILLEGAL = "illegal"  # anything else: the task fails, the Catch compensates


def decide_park(order: Order, now: datetime) -> ParkAction:
    if order.status == OrderStatus.ALLOCATED:
        if order.is_paid:
            return ParkAction.PAY
        if order.pay_deadline is not None and now >= order.pay_deadline:
            return ParkAction.CANCEL
        return ParkAction.WAIT
    if order.status == OrderStatus.AWAITING_PAYMENT:
        return ParkAction.REWAIT
    if order.status in {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED}:
        return ParkAction.RESUME_PAID
    if is_timeout_cancelled(order):
        return ParkAction.RESUME_CANCELLED
    return ParkAction.ILLEGAL


# ---------------------------------------------------------------- the timer (schedule or sweep)


class TimerAction(StrEnum):
    CANCEL = "cancel"  # due and unpaid: cancel, release, fail the waiting task
    NOT_DUE = "not_due"  # fired early (clock skew, a flexible window): nothing yet
    IN_FLIGHT = "in_flight"  # not parked yet: the wait step cancels it when it gets there
    RESUME = "resume"  # decided but the execution may not have been told: tell it (again)
    CLOSE = "close"  # nothing left to do: drop the timer


def decide_timer(order: Order, now: datetime, has_token: bool) -> TimerAction:
    if order.status == OrderStatus.AWAITING_PAYMENT:
        if order.pay_deadline is None or now >= order.pay_deadline:
            return TimerAction.CANCEL
        return TimerAction.NOT_DUE
    if order.status == OrderStatus.BACKORDERED and not order.is_paid:
        # Still waiting for stock when the pay deadline comes: cancel it there (it holds no stock; the
        # restock wait it is parked on is failed with PaymentTimeoutError, like the payment wait).
        if order.pay_deadline is None or now >= order.pay_deadline:
            return TimerAction.CANCEL
        return TimerAction.NOT_DUE
    if order.status in BEFORE_PARKING:
        return TimerAction.CLOSE if order.is_paid else TimerAction.IN_FLIGHT
    if has_token and (order.status == OrderStatus.PAID or is_timeout_cancelled(order)):
        return TimerAction.RESUME
    return TimerAction.CLOSE
