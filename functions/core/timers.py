"""One-time timers as EventBridge Scheduler schedules: `at(...)`, deleted by the service once fired.

Every timer of the OMS (an unpaid order's pay deadline, a hold's escalation) is one schedule in the
timers group, targeting the function that handles it with a small JSON input, and backed by a sweep
(a rate rule on the same function) that finds what a lost schedule would have done. So creating a
schedule never has to succeed for the timer to fire: its caller logs a failure and carries on.
Creating one twice is a no-op (ConflictException) and deleting a missing one is too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.observability import logger
from functions.core.settings import get_scheduling_settings, get_timer_settings


def at_expression(moment: datetime) -> str:
    """EventBridge Scheduler one-time expression (UTC, whole seconds, never before `moment`)."""
    utc = moment.astimezone(UTC)
    whole = utc.replace(microsecond=0)
    if whole < utc:
        whole += timedelta(seconds=1)
    return f"at({whole.strftime('%Y-%m-%dT%H:%M:%S')})"


def create_one_time_schedule(
    name: str, at: datetime, target_arn: str, payload: dict[str, Any], description: str
) -> bool:
    """Invoke `target_arn` with `payload` at `at`. False when a schedule of that name already exists."""
    settings = get_scheduling_settings()
    try:
        aws.scheduler().create_schedule(
            Name=name,
            GroupName=settings.schedule_group,
            ScheduleExpression=at_expression(at),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Description=description[:512],
            Target={
                "Arn": target_arn,
                "RoleArn": settings.scheduler_role_arn,
                "Input": json.dumps(payload),
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            },
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConflictException":
            return False
        raise
    return True


def delete_schedule(name: str) -> bool:
    """Best effort: a schedule left behind fires into a no-op and deletes itself."""
    try:
        aws.scheduler().delete_schedule(Name=name, GroupName=get_timer_settings().schedule_group)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code != "ResourceNotFoundException":
            logger.warning("could not delete a schedule", extra={"error_code": code})
        return False
    return True


@dataclass(frozen=True)
class OneTimeTimer:
    """One kind of timer (a pay deadline, a return deadline, a hold's escalation): a one-time schedule
    per subject, invoking the function `target_arn()` names with {`key`: subject id, "source":
    "schedule"}. Its sweep is the backstop, so arming is best effort: a failure is logged, not raised."""

    what: str  # e.g. "return deadline": in logs and the schedule's description
    key: str  # the payload field naming the subject: "order_id", "case_id"
    target_arn: Callable[[], str]
    name_of: Callable[[str, datetime | None], str]  # (subject id, due) -> schedule name (<= 64 chars)

    def arm(self, subject: str, due: datetime, description: str) -> bool:
        """Schedule the timer at `due`. False when it already exists or could not be created."""
        try:
            return create_one_time_schedule(
                self.name_of(subject, due),
                due,
                self.target_arn(),
                {self.key: subject, "source": "schedule"},
                description,
            )
        except ClientError as err:
            logger.warning(
                f"{self.what} schedule not created; the sweep will act on time",
                extra={self.key: subject, "error_code": err.response.get("Error", {}).get("Code")},
            )
            return False

    def disarm(self, subject: str, due: datetime | None = None) -> bool:
        return delete_schedule(self.name_of(subject, due))
