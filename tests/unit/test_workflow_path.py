"""An order's path read as on AWS: the Express execution's log records, then the waiting execution."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.core import aws, workflow
from functions.core.settings import clear_settings_cache

REGION = "arn:aws:states:us-east-1:123456789012"
EXPRESS = f"{REGION}:express:oms-prod-orders-express:ord-1:6f0c1b2a-0000-4000-8000-000000000001"
WAITING = f"{REGION}:execution:oms-prod-orders:ord-1"
CREATED = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def order_path_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TABLE_NAME", "unit-test-table")
    monkeypatch.setenv("STATE_MACHINE_ARN", f"{REGION}:stateMachine:oms-prod-orders-express")
    monkeypatch.setenv("WAITING_STATE_MACHINE_ARN", f"{REGION}:stateMachine:oms-prod-orders")
    monkeypatch.setenv("EXPRESS_LOG_GROUP", "/aws/vendedlogs/states/oms-prod-orders-express")
    clear_settings_cache()
    yield
    clear_settings_cache()


def record(event_id: int, kind: str, ms: int, arn: str = EXPRESS, **details: Any) -> dict[str, Any]:
    """One Express execution log record as Step Functions writes it (level ALL, no execution data)."""
    line = {
        "id": str(event_id),
        "type": kind,
        "details": details,
        "previous_event_id": str(event_id - 1),
        "event_timestamp": str(int(CREATED.timestamp() * 1000) + ms),
        "execution_arn": arn,
        "redrive_count": "0",
    }
    return {"timestamp": int(line["event_timestamp"]), "message": json.dumps(line)}


class FakeLogs:
    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages, self.calls = pages, []  # type: ignore[var-annotated]

    def filter_log_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        page = len(self.calls) - 1
        more = page + 1 < len(self.pages)
        return {"events": self.pages[page], **({"nextToken": f"t{page}"} if more else {})}


class FakeStates:
    def __init__(self, waiting: bool) -> None:
        self.waiting = waiting

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        assert executionArn == WAITING  # an Express execution is never described (AWS refuses it)
        if not self.waiting:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist"}}, "DescribeExecution")
        return {"status": "RUNNING", "startDate": CREATED.replace(second=1)}

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["executionArn"] == WAITING
        started = CREATED.replace(second=1)
        return {
            "events": [
                {"id": 1, "timestamp": started, "type": "ExecutionStarted"},
                {
                    "id": 2,
                    "timestamp": started,
                    "type": "TaskStateEntered",
                    "stateEnteredEventDetails": {"name": "AwaitPayment"},
                },
            ]
        }


def install(monkeypatch: pytest.MonkeyPatch, logs: FakeLogs, states: FakeStates) -> None:
    monkeypatch.setattr(aws, "logs", lambda: logs)
    monkeypatch.setattr(aws, "stepfunctions", lambda: states)


FAST_PATH = [
    record(1, "ExecutionStarted", 0, roleArn="arn:aws:iam::123456789012:role/x"),
    record(2, "TaskStateEntered", 5, name="Review"),
    record(
        3, "TaskFailed", 40, resourceType="lambda", resource="invoke", error="TransientError", cause="busy"
    ),
]


def test_a_paid_order_is_read_from_its_express_records_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    logs = FakeLogs(
        [FAST_PATH, [record(4, "ExecutionSucceeded", 300), record(1, "ExecutionStarted", 1, arn="x")]]
    )
    install(monkeypatch, logs, FakeStates(waiting=False))

    executions, events = workflow.order_path("ord-1", EXPRESS, since=CREATED)

    assert workflow.is_express(EXPRESS)
    assert not workflow.is_express(WAITING)
    assert executions == [
        {
            "arn": EXPRESS,
            "kind": "express",
            "status": "SUCCEEDED",
            "started_at": "2026-11-11T00:00:00+00:00",
            "stopped_at": "2026-11-11T00:00:00.300000+00:00",
            "error": None,
            "cause": None,
        }
    ]
    assert [(e["id"], e["type"], e.get("state")) for e in events] == [
        (1, "ExecutionStarted", None),
        (2, "TaskStateEntered", "Review"),
        (3, "TaskFailed", None),
        (4, "ExecutionSucceeded", None),
    ]  # the other execution's record that matched the filter is left out
    assert events[2]["error"] == "TransientError"
    assert events[2]["resourceType"] == "lambda"
    assert {e["workflow"] for e in events} == {"express"}
    first = logs.calls[0]
    assert first["filterPattern"] == f'"{EXPRESS}"'
    assert first["startTime"] == int(CREATED.timestamp() * 1000) - 5 * 60 * 1000
    assert logs.calls[1]["nextToken"] == "t0"


def test_a_waiting_order_reads_the_express_part_then_the_standard_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed_over = [*FAST_PATH, record(4, "ExecutionSucceeded", 900)]
    install(monkeypatch, FakeLogs([handed_over]), FakeStates(waiting=True))

    executions, events = workflow.order_path("ord-1", EXPRESS, since=CREATED)

    assert [(e["kind"], e["status"]) for e in executions] == [
        ("express", "SUCCEEDED"),
        ("standard", "RUNNING"),
    ]
    assert [(e["workflow"], e["type"]) for e in events] == [
        ("express", "ExecutionStarted"),
        ("express", "TaskStateEntered"),
        ("express", "TaskFailed"),
        ("express", "ExecutionSucceeded"),
        ("standard", "ExecutionStarted"),
        ("standard", "TaskStateEntered"),
    ]


def test_no_records_yet_is_said_not_guessed(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeLogs([[]]), FakeStates(waiting=False))
    (execution,), events = workflow.order_path("ord-1", EXPRESS, since=CREATED)
    assert events == []
    assert execution["status"] == "GONE"
    assert "No log records" in execution["cause"]
