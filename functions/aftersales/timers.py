"""The return-shipping deadline as a one-time timer (functions/core/timers.py), like pay deadlines
and hold escalations: `asret-<case id>` targets AfterSalesTimerFunction with {"case_id": ...}. A lost
schedule is caught by the rate(5 minutes) sweep over the ASDUE# items (repository)."""

from __future__ import annotations

from datetime import datetime

from functions.aftersales.settings import return_timer_settings
from functions.core.timers import OneTimeTimer


def schedule_name(case_id: str, due: datetime | None = None) -> str:
    return f"asret-{case_id}"  # 46 characters: within Scheduler's 64


RETURN_DEADLINE = OneTimeTimer(
    what="return deadline",
    key="case_id",
    target_arn=lambda: return_timer_settings().aftersales_timer_function_arn,
    name_of=schedule_name,
)


def schedule_return_deadline(case_id: str, due: datetime) -> None:
    """Never fails the case: the sweep closes it on time even without its schedule."""
    RETURN_DEADLINE.arm(case_id, due, f"close after-sales case {case_id} if the return was not shipped")


def delete_return_deadline(case_id: str) -> None:
    RETURN_DEADLINE.disarm(case_id)
