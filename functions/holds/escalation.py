"""Escalating holds nobody decided: the timer, on the same mechanism as the payment timeouts.

When an execution starts waiting on a hold (AwaitReview), `schedule_escalation` creates a one-time
EventBridge Scheduler schedule at `Hold.escalate_at` (held since + `rules.review.hold_escalation_minutes`)
targeting HoldEscalationFunction (functions/holds/escalation_handler.py), which calls
`functions.holds.service.escalate_hold(order_id)`: idempotent, so a second firing, or a firing for a
hold decided or replaced meanwhile, changes nothing. A rate(5 minutes) sweep on the same function
calls `escalate_overdue_holds()`, which escalates what a lost schedule would have. See
docs/payment-and-timeouts.md.
"""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from functions.core import timers
from functions.core.observability import logger
from functions.core.settings import get_hold_scheduling_settings


def schedule_name(order_id: str, due_at: datetime) -> str:
    """One per hold: a re-held order's new hold (a new due time) gets its own schedule."""
    return f"hold-{order_id}-{int(due_at.timestamp())}"  # <= 64 characters


def schedule_escalation(order_id: str, due_at: datetime) -> None:
    """Arrange for `escalate_hold(order_id)` to run at `due_at`. Never fails the hold: the sweep
    escalates the order on time even without its schedule."""
    try:
        timers.create_one_time_schedule(
            schedule_name(order_id, due_at),
            due_at,
            get_hold_scheduling_settings().escalation_function_arn,
            {"order_id": order_id, "source": "schedule"},
            f"escalate the hold of {order_id} if nobody decided",
        )
    except ClientError as err:
        logger.warning(
            "hold escalation schedule not created; the sweep will escalate on time",
            extra={"order_id": order_id, "error_code": err.response.get("Error", {}).get("Code")},
        )
