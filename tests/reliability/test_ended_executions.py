"""Executions that end without passing through the Compensate state still give their stock back.

StopExecution (ops), a timeout, or a Compensate task that fails for good end the execution with no Catch
to run. template.yaml routes "Step Functions Execution Status Change" events (ABORTED, TIMED_OUT, FAILED)
for the order state machine to ExecutionStoppedFunction; moto stores EventBridge rules but never fires
them, so these tests deliver the event EventBridge would send to that same function (docs/reliability.md).
"""

from __future__ import annotations

import threading

import pytest

from functions.core import repository
from tests.factories import new_sku, order_body

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def status_change_event(stack, execution_arn: str) -> dict:
    """What EventBridge delivers for an execution that ended (the detail mirrors DescribeExecution)."""
    described = stack.describe_execution(execution_arn)
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": described["status"],
        "startDate": 0,
        "stopDate": 0,
        "input": "{}",
        "output": None,
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return {
        "version": "0",
        "id": f"evt-{described['name']}",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": detail,
    }


def deliver(stack, event: dict) -> dict:
    return stack.runtime.invoke("ExecutionStoppedFunction", event)  # type: ignore[no-any-return]


def test_stopped_execution_releases_its_reservations_and_the_late_stage_changes_nothing(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    ship_started, let_ship_go = threading.Event(), threading.Event()

    def hold_ship(name: str, event: dict) -> None:
        if name == "ShipFunction":
            ship_started.set()
            let_ship_go.wait(20)  # the Lambda is still running when ops stop the execution

    stack.runtime.before_invoke = hold_ship
    response = oms.post(order_body([(sku, 4)]))
    arn, order_id = response.json()["execution_arn"], response.json()["order_id"]
    assert ship_started.wait(20)
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 4, "available": 6}

    stack.sfn.stop_execution(executionArn=arn, error="Ops.Stopped", cause="stopped by ops")
    # AWS reports ABORTED at once and emits the event while the Ship Lambda is still running; moto only
    # reflects the status once the in-flight task returns, so the event is built as AWS would send it.
    event = status_change_event(stack, arn)
    event["detail"].update(status="ABORTED", error="Ops.Stopped", cause="stopped by ops")
    result = deliver(stack, event)
    assert result == {"order_id": order_id, "status": "FAILED", "released": 1}

    let_ship_go.set()  # the in-flight Ship task finishes after the compensation: its write must lose
    # AWS keeps it ABORTED; moto lets the released task fail on the compensated order and run the Catch
    # path (Compensate is then a no-op): either way the execution ends and the books below must hold.
    assert oms.wait(arn)["status"] in ("ABORTED", "FAILED")

    order = oms.order(order_id)
    assert order["status"] == "FAILED"
    assert order["failure"]["error"] == "Ops.Stopped"
    assert order["reservations"] == []
    assert order["shipments"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}

    # EventBridge delivers at least once: a second delivery changes nothing.
    assert deliver(stack, event) == {
        "order_id": order_id,
        "status": "FAILED",
        "released": 0,
    }
    assert [e.type for e in repository.load_aggregate(order_id).events].count("order.failed") == 1


def test_execution_failed_inside_compensate_is_compensated_by_the_status_change_rule(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)

    def crash(name: str, event: dict) -> None:
        if name in ("ShipFunction", "CompensateFunction"):
            raise RuntimeError(f"injected into {name}")

    stack.runtime.before_invoke = crash
    order, execution = oms.run(order_body([(sku, 3)]))
    assert execution["status"] == "FAILED"
    assert order["status"] == "ALLOCATED"  # Compensate never got through: the stock is still held
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 3, "available": 7}

    stack.runtime.before_invoke = None
    result = deliver(stack, status_change_event(stack, execution["executionArn"]))
    assert result["status"] == "FAILED"
    assert result["released"] == 1
    order = oms.order(order["order_id"])
    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == "ship"
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}


def test_status_change_for_an_order_that_already_ended_changes_nothing(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    order, execution = oms.run(order_body([(sku, 2)]))
    assert order["status"] == "SHIPPED"
    event = status_change_event(stack, execution["executionArn"])
    event["detail"]["status"] = "FAILED"  # e.g. a late or misrouted event
    assert deliver(stack, event) == {"order_id": order["order_id"], "status": "SHIPPED", "released": 0}
    assert oms.order(order["order_id"]) == order
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}


def test_status_change_for_another_execution_name_is_ignored(oms, stack):
    event = {
        "version": "0",
        "id": "evt-x",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"executionArn": "arn:aws:states:x", "name": "manual-test-run", "status": "ABORTED"},
    }
    assert deliver(stack, event) == {"order_id": None, "status": None, "released": 0}
