"""An unpaid order's pay deadline as a one-time schedule (functions/core/timers.py).

One schedule per order, named after it, targeting the payment timeout function with
{"order_id": ...}. A schedule that never fires (deleted by mistake, a throttled create) is caught by
the rate(1 minute) sweep over the timer index (GSI5).
"""

from __future__ import annotations

from functions.core import timers
from functions.core.models import Order
from functions.core.settings import get_payment_scheduling_settings


def schedule_name(order_id: str) -> str:
    return order_id  # ord-<24 hex>: within Scheduler's 64 characters, unique per group


def create_timeout_schedule(order: Order) -> bool:
    """Schedule the timeout at `order.pay_deadline`. False when it already exists."""
    if order.pay_deadline is None:
        raise ValueError(f"order {order.order_id} has no pay deadline")
    return timers.create_one_time_schedule(
        schedule_name(order.order_id),
        order.pay_deadline,
        get_payment_scheduling_settings().timeout_function_arn,
        {"order_id": order.order_id, "source": "schedule"},
        f"pay deadline of {order.order_id}",
    )


def delete_timeout_schedule(order_id: str) -> bool:
    return timers.delete_schedule(schedule_name(order_id))
