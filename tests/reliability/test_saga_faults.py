"""Faults in the middle of the saga: DynamoDB throttling, transaction conflicts, lost responses, a
compensation that fails. Each test checks the books afterwards: order status, reservations, stock.

Already covered in tests/e2e/test_compensation.py (not repeated here): a crash in each stage is
compensated; TransientError raised by a handler is retried, and compensated when it never stops; a task
retried after it succeeded does its work once; allocate/ship/compensate services called twice act once.
This file adds the faults that come from DynamoDB itself and from the compensation path.
"""

from __future__ import annotations

import pytest

from functions.core import repository
from functions.core.errors import TransientError
from tests.factories import new_sku, order_body, order_id_of
from tests.reliability.faults import DynamoFault, conflict, lost_response, throttled

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def _task_failures(stack, execution_arn: str) -> list[str]:
    return [
        e["taskFailedEventDetails"]["error"]
        for e in stack.execution_history(execution_arn)
        if e["type"] == "TaskFailed"
    ]


def _statuses(order_id: str) -> list[str]:
    return [e.to_status for e in repository.load_aggregate(order_id).events]


def test_ship_transaction_throttled_past_the_sdk_retries_is_retried_by_the_state_machine(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 3)])
    # 4 throttled answers: the SDK's own 3 attempts fail, then the state machine retries the task.
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "order.shipped"), throttled, times=4)
    stack.runtime.before_dynamodb = fault.before
    order, execution = oms.run(body)

    assert fault.hits == 5  # 3 SDK attempts + 2 in the retried task (the 5th went through)
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert _task_failures(stack, order["execution_arn"]) == ["TransientError"]
    assert len(order["shipments"]) == 1
    assert oms.stock(sku) == {"on_hand": 7, "reserved": 0, "available": 7}
    assert _statuses(order["order_id"]) == ["RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED"]


def test_transaction_conflicts_on_the_reservation_are_retried_and_reserve_once(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 4)])
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "stock.reserved"), conflict, times=2)
    stack.runtime.before_dynamodb = fault.before
    order, execution = oms.run(body)

    assert fault.hits == 3
    assert execution["status"] == "SUCCEEDED"
    assert _task_failures(stack, order["execution_arn"]) == ["TransientError", "TransientError"]
    assert order["status"] == "SHIPPED"
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 0, "available": 6}
    events = repository.load_aggregate(order["order_id"]).events
    assert [e.type for e in events].count("stock.reserved") == 1


def test_conflicts_that_never_stop_at_ship_are_compensated_and_stock_released(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 4)])
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "order.shipped"), conflict)
    stack.runtime.before_dynamodb = fault.before
    order, execution = oms.run(body)

    assert fault.hits == 6  # first attempt + MaxAttempts=5 task retries
    assert execution["status"] == "FAILED"
    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == "ship"
    assert order["failure"]["error"] == "TransientError"
    assert order["reservations"] == []
    assert order["shipments"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}


def test_reservation_committed_but_its_answer_lost_leaves_one_reservation(oms, stack):
    """The crash between reserving stock and recording it: here both are one transaction, so the only
    window is after the commit, before the handler hears of it. The retry finds the order ALLOCATED."""
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 4)])
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "stock.reserved"), lost_response, times=1)
    stack.runtime.after_dynamodb = fault.after
    order, execution = oms.run(body)

    assert fault.hits >= 1
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    aggregate = repository.load_aggregate(order["order_id"])
    assert [e.type for e in aggregate.events].count("stock.reserved") == 1
    assert [s.lines[0].quantity for s in aggregate.shipments] == [4]
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 0, "available": 6}


def test_reservation_transaction_that_fails_before_commit_leaves_nothing_then_retry_reserves(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 4)])
    seen: list[dict[str, int]] = []

    def fault_and_look(action: str, payload: dict) -> None:
        if action == "TransactWriteItems" and "stock.reserved" in str(payload) and not seen:
            seen.append({"hit": 1})
            raise lost_response()

    stack.runtime.before_dynamodb = fault_and_look
    order, execution = oms.run(body)
    assert seen
    assert execution["status"] == "SUCCEEDED"
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 0, "available": 6}
    assert [e.type for e in repository.load_aggregate(order["order_id"]).events].count("stock.reserved") == 1


def test_a_compensation_that_fails_once_is_retried_and_releases_the_stock(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    calls: list[str] = []

    def hook(name: str, event: dict) -> None:
        if name in ("ShipFunction", "CompensateFunction"):
            calls.append(name)
        if name == "ShipFunction":
            raise RuntimeError("injected ship crash")
        if name == "CompensateFunction" and calls.count("CompensateFunction") == 1:
            raise TransientError("injected: compensation fails once")

    stack.runtime.before_invoke = hook
    order, execution = oms.run(order_body([(sku, 4)]))

    assert calls.count("CompensateFunction") == 2
    assert execution["status"] == "FAILED"
    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == "ship"
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert [e.type for e in repository.load_aggregate(order["order_id"]).events].count("order.failed") == 1


def test_compensation_throttled_by_dynamodb_is_retried_and_releases_once(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 4)])
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "order.failed"), throttled, times=3)
    stack.runtime.before_dynamodb = fault.before

    def crash_ship(name: str, event: dict) -> None:
        if name == "ShipFunction":
            raise RuntimeError("injected ship crash")

    stack.runtime.before_invoke = crash_ship
    order, execution = oms.run(body)

    assert fault.hits == 4
    assert execution["status"] == "FAILED"
    assert order["status"] == "FAILED"
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
