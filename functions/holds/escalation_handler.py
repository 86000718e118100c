"""HoldEscalationFunction: a hold's one-time escalation schedule ({"order_id": ...}), or the sweep rule."""

from __future__ import annotations

from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.settings import get_settings
from functions.core.timer_task import timer_task
from functions.holds.service import escalate_hold, escalate_overdue_holds

get_settings()

lambda_handler = timer_task(
    "hold_escalation",
    "order_id",
    ORDER_ID_PATTERN,
    fire=lambda order_id: {"order_id": order_id, "escalated": escalate_hold(order_id)},
    sweep=lambda: {"escalated": escalate_overdue_holds()},
)
