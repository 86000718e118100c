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

from functions.core.settings import get_hold_scheduling_settings
from functions.core.timers import OneTimeTimer


def schedule_name(order_id: str, due_at: datetime | None) -> str:
    """One per hold: a re-held order's new hold (a new due time) gets its own schedule."""
    if due_at is None:
        raise ValueError("a hold's escalation schedule is named by its due time")
    return f"hold-{order_id}-{int(due_at.timestamp())}"  # <= 64 characters


HOLD_ESCALATION = OneTimeTimer(
    what="hold escalation",
    key="order_id",
    target_arn=lambda: get_hold_scheduling_settings().escalation_function_arn,
    name_of=schedule_name,
)


def schedule_escalation(order_id: str, due_at: datetime) -> None:
    """Arrange for `escalate_hold(order_id)` to run at `due_at`. Never fails the hold: the sweep
    escalates the order on time even without its schedule."""
    HOLD_ESCALATION.arm(order_id, due_at, f"escalate the hold of {order_id} if nobody decided")
