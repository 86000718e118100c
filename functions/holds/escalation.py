"""Escalating holds nobody decided: the timer hook, and what happens when the timer fires.

HOOK (not wired yet): `schedule_escalation` is called when an execution starts waiting on a hold, with
the moment the hold becomes overdue
(`Hold.escalate_at` = held since + `rules.review.hold_escalation_minutes`).
The payment/timeouts work builds the schedule mechanism (EventBridge Scheduler one-time `at(...)`
schedules, and a sweep); wiring holds to it is:

  1. in `schedule_escalation`, create a one-time schedule at `due_at` whose target invokes a function
     that calls `functions.holds.service.escalate_hold(order_id)` (idempotent: a second firing, or a
     firing for a hold that was decided or replaced meanwhile, changes nothing);
  2. optionally let the sweep call `functions.holds.service.escalate_overdue_holds()`, which escalates
     every ON_HOLD order whose `escalate_at` has passed (what a lost schedule would have done).

Until then nothing calls `escalate_hold` on its own; the two service functions are complete and tested.
"""

from __future__ import annotations

from datetime import datetime

from functions.core.observability import logger


def schedule_escalation(order_id: str, due_at: datetime) -> None:
    """HOOK: arrange for `escalate_hold(order_id)` to run at `due_at` (see the module docstring)."""
    logger.debug("hold escalation due", extra={"order_id": order_id, "due_at": due_at.isoformat()})
