"""Starting and reading order executions (Step Functions).

An order runs on the Express fast path first and, when it must wait, on the Standard waiting workflow
(ADR 0001). Standard executions keep their history (GetExecutionHistory); Express executions keep
none, their events are log records (level ALL, no execution data) in the fast path's log group.
`order_path` reads both and gives one list of events in one shape.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.errors import TransientError
from functions.core.settings import get_api_settings, get_order_path_settings


def execution_arn_for(order_id: str) -> str:
    """A Standard execution's ARN is deterministic: its state machine's ARN with the name appended.
    (An Express execution's ends with a generated id: the one StartExecution answers is kept.)"""
    sm_arn = get_api_settings().state_machine_arn
    return sm_arn.replace(":stateMachine:", ":execution:") + f":{order_id}"


def start_order_workflow(order_id: str, payment: str = "paid") -> str:
    """Start the order's fast-path execution, named after the order.

    `payment` ("paid" or "unpaid", as the order arrived) is what the fast path routes on: an unpaid
    order is handed to the waiting workflow once its stock is reserved.
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
        if key.endswith("EventDetails") and isinstance(details, dict):
            _add_details(summary, details)
    return summary


def _add_details(summary: dict[str, Any], details: dict[str, Any]) -> None:
    if "name" in details:
        summary["state"] = details["name"]
    for field in ("error", "cause", "resourceType", "resource"):
        if details.get(field):
            summary[field] = str(details[field])[:500]


# ---------------------------------------------------------------- the order's path: Express, then Standard

_TERMINAL = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# Log records reach the group within seconds: read from a little before the order was created.
_LOG_SLACK = timedelta(minutes=5)


def is_express(execution_arn: str) -> bool:
    """An Express execution: `...:express:<machine>:<name>:<id>` on AWS; the local runtime keeps
    moto's `...:execution:<machine>:<name>` form, so the fast path's machine name decides too."""
    parts = execution_arn.split(":")
    fast_path = get_api_settings().state_machine_arn.rsplit(":", 1)[-1]
    return len(parts) > 6 and (parts[5] == "express" or parts[6] == fast_path)


def waiting_execution_arn(order_id: str) -> str:
    """The order's waiting execution, if the fast path handed it over (named after the order)."""
    sm_arn = get_order_path_settings().waiting_state_machine_arn
    return sm_arn.replace(":stateMachine:", ":execution:") + f":{order_id}"


def order_path(
    order_id: str, execution_arn: str, since: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The order's executions (fast path first) and their events in time order, each event naming
    its `workflow` ("express" or "standard"). `since`: when the order was created."""
    if not is_express(execution_arn):  # an order started before the fast path existed
        events = [{"workflow": "standard", **e} for e in history(execution_arn)]
        return [{"arn": execution_arn, "kind": "standard", **describe(execution_arn)}], events
    records = express_history(execution_arn, since)
    executions = [{"arn": execution_arn, "kind": "express", **_express_status(records)}]
    events = [{"workflow": "express", **e} for e in records]
    waiting = waiting_execution_arn(order_id)
    described = describe(waiting)
    if described["status"] != "GONE":
        executions.append({"arn": waiting, "kind": "standard", **described})
        events += [{"workflow": "standard", **e} for e in history(waiting)]
    events.sort(key=lambda e: e["at"])  # stable: at the same instant the fast path's events come first
    return executions, events


def express_history(execution_arn: str, since: datetime) -> list[dict[str, Any]]:
    """An Express execution's events from its log records (the AWS record format: id, type, details,
    previous_event_id, event_timestamp in epoch ms, execution_arn), in the shape `history` gives."""
    kwargs: dict[str, Any] = {
        "logGroupName": get_order_path_settings().express_log_group,
        "filterPattern": f'"{execution_arn}"',  # a quoted term: the ARN's colons are not operators
        "startTime": int((since - _LOG_SLACK).timestamp() * 1000),
    }
    events: list[dict[str, Any]] = []
    while True:
        try:
            response = aws.logs().filter_log_events(**kwargs)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return events
            raise
        for line in response.get("events", []):
            record = json.loads(line["message"])
            if record.get("execution_arn") == execution_arn:
                events.append(_from_record(record))
        if not response.get("nextToken"):
            break
        kwargs["nextToken"] = response["nextToken"]
    return sorted(events, key=lambda e: e["id"])


def _from_record(record: dict[str, Any]) -> dict[str, Any]:
    moment = datetime.fromtimestamp(int(record["event_timestamp"]) / 1000, tz=UTC)
    summary: dict[str, Any] = {"id": int(record["id"]), "at": moment.isoformat(), "type": record["type"]}
    if isinstance(record.get("details"), dict):
        _add_details(summary, record["details"])
    return summary


def _express_status(events: list[dict[str, Any]]) -> dict[str, Any]:
    if not events:
        return {
            **_GONE,
            "cause": "No log records of this execution (not delivered yet, or past retention)",
        }
    last = events[-1]
    status = _TERMINAL.get(last["type"], "RUNNING")
    return {
        "status": status,
        "started_at": events[0]["at"],
        "stopped_at": last["at"] if status != "RUNNING" else None,
        "error": last.get("error") if status != "RUNNING" else None,
        "cause": last.get("cause") if status != "RUNNING" else None,
    }


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
