"""The return-shipping deadline as a one-time schedule (functions/core/timers.py), like pay deadlines
and hold escalations: `asret-<case id>` targets AfterSalesTimerFunction with {"case_id": ...}. A lost
schedule is caught by the rate(5 minutes) sweep over the ASDUE# items (repository)."""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from functions.aftersales.settings import return_timer_settings
from functions.core import timers
from functions.core.observability import logger


def schedule_name(case_id: str) -> str:
    return f"asret-{case_id}"  # 46 characters: within Scheduler's 64


def schedule_return_deadline(case_id: str, due: datetime) -> None:
    """Never fails the case: the sweep closes it on time even without its schedule."""
    try:
        timers.create_one_time_schedule(
            schedule_name(case_id),
            due,
            return_timer_settings().aftersales_timer_function_arn,
            {"case_id": case_id, "source": "schedule"},
            f"close after-sales case {case_id} if the return was not shipped",
        )
    except ClientError as err:
        logger.warning(
            "return deadline schedule not created; the sweep will close the case on time",
            extra={"case_id": case_id, "error_code": err.response.get("Error", {}).get("Code")},
        )


def delete_return_deadline(case_id: str) -> None:
    timers.delete_schedule(schedule_name(case_id))
