"""The order's pay deadline as an EventBridge Scheduler one-time schedule (`at(...)`).

One schedule per order, named after it, in the payment schedule group, targeting the timeout function
with {"order_id": ...}; ActionAfterCompletion DELETE removes it once it has fired. Creating it twice is
a no-op and deleting a missing one is too, so resends and retries are harmless. A schedule that never
fires (deleted by mistake, a throttled create) is caught by the rate(1 minute) sweep.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.models import Order
from functions.core.observability import logger
from functions.core.settings import get_scheduling_settings, get_timer_settings
from functions.payment.logic import at_expression


def schedule_name(order_id: str) -> str:
    return order_id  # ord-<24 hex>: within Scheduler's 64 characters, unique per group


def create_timeout_schedule(order: Order) -> bool:
    """Schedule the timeout at `order.pay_deadline`. False when it already exists."""
    if order.pay_deadline is None:
        raise ValueError(f"order {order.order_id} has no pay deadline")
    settings = get_scheduling_settings()
    try:
        aws.scheduler().create_schedule(
            Name=schedule_name(order.order_id),
            GroupName=settings.schedule_group,
            ScheduleExpression=at_expression(order.pay_deadline),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Description=f"pay deadline of {order.order_id}",
            Target={
                "Arn": settings.timeout_function_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps({"order_id": order.order_id, "source": "schedule"}),
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            },
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConflictException":
            return False
        raise
    return True


def delete_timeout_schedule(order_id: str) -> bool:
    """Best effort: a schedule left behind fires into a no-op and deletes itself."""
    try:
        aws.scheduler().delete_schedule(
            Name=schedule_name(order_id), GroupName=get_timer_settings().schedule_group
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code != "ResourceNotFoundException":
            logger.warning("could not delete the timeout schedule", extra={"error_code": code})
        return False
    return True
