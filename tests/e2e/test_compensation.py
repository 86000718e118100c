"""Faults: crashes are compensated (stock given back, the order FAILED with why), transient errors retried,
and a task retried after it already succeeded changes nothing twice."""

from __future__ import annotations

import pytest

from functions.core import clock, repository
from functions.core.errors import TransientError
from functions.core.stage import StepError
from tests.factories import new_sku, order_body, stored_order

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


def crash_in(function_name: str, error: type[Exception] = RuntimeError, times: int | None = None):
    """A before_invoke hook: `function_name` raises `error` (always, or on its first `times` calls)."""
    calls: list[str] = []

    def hook(name: str, event: dict) -> None:
        if name != function_name:
            return
        calls.append(name)
        if times is None or len(calls) <= times:
            raise error(f"injected into {name} call {len(calls)}")

    hook.calls = calls  # type: ignore[attr-defined]
    return hook


class after_success:
    """Wrap a handler so its first call does its work, then fails as if the response were lost."""

    def __init__(self, stack, function_name: str, error: type[Exception]) -> None:
        self.stack, self.name, self.error = stack, function_name, error
        self.calls = 0

    def __enter__(self):
        self.original = self.stack.runtime.handlers[self.name]
        handler, context = self.original

        def wrapped(event, ctx):
            result = handler(event, ctx)
            self.calls += 1
            if self.calls == 1:
                raise self.error("response lost after the work was done")
            return result

        self.stack.runtime.handlers[self.name] = (wrapped, context)
        return self

    def __exit__(self, *exc) -> None:
        self.stack.runtime.handlers[self.name] = self.original


# ---------------------------------------------------------------- crashes are compensated


def test_crash_in_ship_fails_the_order_and_releases_its_reservations(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    stack.runtime.before_invoke = crash_in("ShipFunction")
    order, execution = oms.run(order_body([(sku, 4)]))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrderFailed"
    assert "RuntimeError" in execution["cause"]
    assert oms.states_entered(order["execution_arn"])[-4:] == [
        "ShipFailed",
        "Compensate",
        "CompensationOutcome",
        "OrderFailed",
    ]

    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == "ship"
    assert order["failure"]["error"] == "RuntimeError"
    assert "injected into ShipFunction" in order["failure"]["cause"]
    assert order["reservations"] == []
    assert order["shipments"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}

    events = repository.load_aggregate(order["order_id"]).events
    assert [e.to_status for e in events] == ["RECEIVED", "APPROVED", "ALLOCATED", "FAILED"]
    assert events[-1].detail == {"stage": "ship", "error": "RuntimeError", "released": 1}


@pytest.mark.parametrize(
    ("function_name", "stage"), [("ReviewFunction", "review"), ("AllocateFunction", "allocate")]
)
def test_crash_in_an_earlier_stage_fails_the_order_there(oms, stack, function_name, stage):
    sku = new_sku()
    oms.set_stock(sku, 5)
    stack.runtime.before_invoke = crash_in(function_name)
    order, execution = oms.run(order_body([(sku, 1)]))

    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrderFailed"
    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == stage
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}


def test_a_crash_is_not_retried(stack, oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    hook = crash_in("ShipFunction")
    stack.runtime.before_invoke = hook
    oms.run(order_body([(sku, 1)]))
    assert len(hook.calls) == 1


# ---------------------------------------------------------------- transient errors are retried


def test_transient_errors_are_retried_until_the_order_ships(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    hook = crash_in("AllocateFunction", TransientError, times=2)
    stack.runtime.before_invoke = hook
    order, execution = oms.run(order_body([(sku, 2)]))

    assert len(hook.calls) == 3
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert order["failure"] is None
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
    failed_attempts = [
        e for e in stack.execution_history(order["execution_arn"]) if e["type"] == "TaskFailed"
    ]
    assert [e["taskFailedEventDetails"]["error"] for e in failed_attempts] == ["TransientError"] * 2


@pytest.mark.parametrize(
    ("function_name", "stage"),
    [("ReviewFunction", "review"), ("AllocateFunction", "allocate"), ("ShipFunction", "ship")],
)
def test_transient_errors_that_never_stop_end_in_compensation(oms, stack, function_name, stage):
    sku = new_sku()
    oms.set_stock(sku, 5)
    hook = crash_in(function_name, TransientError)
    stack.runtime.before_invoke = hook
    order, execution = oms.run(order_body([(sku, 2)]))

    assert len(hook.calls) == 6  # the first attempt and MaxAttempts=5 retries
    assert execution["status"] == "FAILED"
    assert execution["error"] == "OrderFailed"
    assert order["status"] == "FAILED"
    assert order["failure"]["stage"] == stage
    assert order["failure"]["error"] == "TransientError"
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}


# ---------------------------------------------------------------- a retry after success is a no-op


@pytest.mark.parametrize("function_name", ["ReviewFunction", "AllocateFunction", "ShipFunction"])
def test_task_retried_after_it_succeeded_does_its_work_once(oms, stack, function_name):
    sku = new_sku()
    oms.set_stock(sku, 10)
    with after_success(stack, function_name, TransientError) as wrapper:
        order, execution = oms.run(order_body([(sku, 3)]))

    assert wrapper.calls == 2
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert len(order["shipments"]) == 1
    assert oms.stock(sku) == {"on_hand": 7, "reserved": 0, "available": 7}
    events = repository.load_aggregate(order["order_id"]).events
    assert [e.to_status for e in events] == ["RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED"]


def _stored(sku: str, quantity: int) -> str:
    order, event = stored_order(order_body([(sku, quantity)]), clock.now())
    assert repository.create_order(order, event)
    return order.order_id


def _stock(sku: str) -> tuple[int, int, int]:
    (level,) = repository.get_stock(sku)
    return level.on_hand, level.reserved, level.available


def test_allocate_service_called_twice_reserves_once(oms):
    from functions.allocate.service import allocate_order
    from functions.review.service import review_order

    sku = new_sku()
    oms.set_stock(sku, 10)
    order_id = _stored(sku, 4)
    assert review_order(order_id, "exec-1").decision == "approve"

    first = allocate_order(order_id, "exec-1")
    again = allocate_order(order_id, "exec-1")

    assert first.outcome == again.outcome == "allocated"
    assert again.reservations == first.reservations
    aggregate = repository.load_aggregate(order_id)
    assert aggregate.order.status == "ALLOCATED"
    assert len(aggregate.reservations) == 1
    assert aggregate.reservations[0].quantity == 4
    assert [e.type for e in aggregate.events].count("stock.reserved") == 1
    assert _stock(sku) == (10, 4, 6)


def test_ship_and_compensate_services_called_twice_act_once(oms):
    from functions.allocate.service import allocate_order
    from functions.compensate.service import compensate_order
    from functions.review.service import review_order
    from functions.ship.service import ship_order

    shipped_sku, failed_sku = new_sku(), new_sku()
    oms.set_stock(shipped_sku, 10)
    oms.set_stock(failed_sku, 10)

    shipped = _stored(shipped_sku, 3)
    review_order(shipped, None)
    allocate_order(shipped, None)
    assert ship_order(shipped, None).shipments == ship_order(shipped, None).shipments
    assert len(repository.load_aggregate(shipped).shipments) == 1
    assert _stock(shipped_sku) == (7, 0, 7)
    # a late compensation cannot un-ship an order
    assert compensate_order(shipped, None, StepError(Error="RuntimeError")).status == "SHIPPED"
    assert _stock(shipped_sku) == (7, 0, 7)

    failed = _stored(failed_sku, 3)
    review_order(failed, None)
    allocate_order(failed, None)
    error = StepError(Error="RuntimeError", Cause="boom")
    assert compensate_order(failed, None, error).released != []
    assert compensate_order(failed, None, error).released == []
    assert repository.get_order(failed).status == "FAILED"
    assert _stock(failed_sku) == (10, 0, 10)


def test_crash_after_allocation_committed_is_attributed_to_allocate(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    with after_success(stack, "AllocateFunction", RuntimeError):
        order, execution = oms.run(order_body([(sku, 1)]))
    assert execution["status"] == "FAILED"
    assert order["status"] == "FAILED"
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}
    assert order["failure"]["stage"] == "allocate"
