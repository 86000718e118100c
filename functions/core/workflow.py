"""Starting and reading order executions (Step Functions)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.errors import TransientError
from functions.core.settings import get_api_settings


def execution_arn_for(order_id: str) -> str:
    """Execution ARNs are deterministic: the state machine ARN with the execution name appended."""
    sm_arn = get_api_settings().state_machine_arn
    return sm_arn.replace(":stateMachine:", ":execution:") + f":{order_id}"


def start_order_workflow(order_id: str, payment: str = "paid") -> str:
    """Start the order's one execution, named after it; a second start of the same name is a no-op.

    `payment` ("paid" or "unpaid", as the order arrived) is what the PaymentGate routes on.
    """
    try:
        response = aws.stepfunctions().start_execution(
            stateMachineArn=get_api_settings().state_machine_arn,
            name=order_id,
            input=json.dumps({"order_id": order_id, "payment": payment}),
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code == "ExecutionAlreadyExists":
            return execution_arn_for(order_id)
        if code in {"ThrottlingException", "ServiceUnavailable", "InternalFailure"}:
            # The order is stored; the platform's retry (503 + Retry-After) starts the execution.
            raise TransientError(f"Step Functions {code}") from err
        raise
    return response["executionArn"]


# Step Functions keeps an ended execution for 90 days (and a restarted local stack keeps none): the
# order's own timeline still stands, so the workflow part is reported gone instead of failing the read.
_GONE = {
    "status": "GONE",
    "started_at": None,
    "stopped_at": None,
    "error": None,
    "cause": "Step Functions no longer keeps this execution (90-day retention, or a restarted local stack)",
}


def _gone(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist"


def describe(execution_arn: str) -> dict[str, Any]:
    try:
        response = aws.stepfunctions().describe_execution(executionArn=execution_arn)
    except ClientError as err:
        if _gone(err):
            return dict(_GONE)
        raise
    return {
        "status": response["status"],
        "started_at": _iso(response.get("startDate")),
        "stopped_at": _iso(response.get("stopDate")),
        "error": response.get("error"),
        "cause": response.get("cause"),
    }


def history(execution_arn: str) -> list[dict[str, Any]]:
    """The execution's events, each reduced to what an operator reads: when, what, which state, why."""
    client = aws.stepfunctions()
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        try:
            response = client.get_execution_history(**kwargs)
        except ClientError as err:
            if _gone(err):
                return events
            raise
        events.extend(_summarise(e) for e in response["events"])  # type: ignore[arg-type]
        if not response.get("nextToken"):
            return events
        kwargs["nextToken"] = response["nextToken"]


def _summarise(event: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"id": event["id"], "at": _iso(event["timestamp"]), "type": event["type"]}
    for key, details in event.items():
        if not key.endswith("EventDetails") or not isinstance(details, dict):
            continue
        if "name" in details:
            summary["state"] = details["name"]
        for field in ("error", "cause", "resourceType", "resource"):
            if details.get(field):
                summary[field] = str(details[field])[:500]
    return summary


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- task tokens (executions waiting on a person

# The token was used, timed out, or its execution ended: nobody waits on it any more.
_TOKEN_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


def send_task_success(token: str, output: dict[str, Any]) -> bool:
    """Resume the execution waiting on `token` with `output`; False when nothing waits on it any more."""
    try:
        aws.stepfunctions().send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _TOKEN_GONE:
            return False
        raise
    return True


def send_task_failure(token: str, error: str, cause: str) -> bool:
    """Fail the waiting task with `error` (its Catch routes on that name); False when nothing waits."""
    try:
        aws.stepfunctions().send_task_failure(taskToken=token, error=error, cause=cause[:32_000])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _TOKEN_GONE:
            return False
        raise
    return True
