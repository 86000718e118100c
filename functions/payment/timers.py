"""An unpaid order's pay deadline as a one-time timer (functions/core/timers.py).

One schedule per order, named after it, targeting the payment timeout function with
{"order_id": ...}. A schedule that never fires (deleted by mistake, a throttled create) is caught by
the rate(1 minute) sweep over the timer index (GSI5).
"""

from __future__ import annotations

from datetime import datetime

from functions.core.models.orders import Order
from functions.core.settings import get_payment_scheduling_settings
from functions.core.timers import OneTimeTimer


def schedule_name(order_id: str, due: datetime | None = None) -> str:
    return order_id  # ord-<24 hex>: within Scheduler's 64 characters, unique per group


PAY_DEADLINE = OneTimeTimer(
    what="pay deadline",
    key="order_id",
    target_arn=lambda: get_payment_scheduling_settings().timeout_function_arn,
    name_of=schedule_name,
)


def create_timeout_schedule(order: Order) -> bool:
    """Schedule the timeout at `order.pay_deadline` (best effort). False when it was not created."""
    if order.pay_deadline is None:
        raise ValueError(f"order {order.order_id} has no pay deadline")
    return PAY_DEADLINE.arm(order.order_id, order.pay_deadline, f"pay deadline of {order.order_id}")


def delete_timeout_schedule(order_id: str) -> bool:
    return PAY_DEADLINE.disarm(order_id)
