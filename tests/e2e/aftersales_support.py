"""Driving after-sales cases through the API (every call via `oms.call`) and waiting for them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from functions.aftersales import service
from functions.core import repository
from oms.local.stack import WAIT_BOUND_SECONDS
from tests.factories import new_sku, order_body


def shipped_order(oms: Any, lines: list[tuple[str, int, str]], **body: Any) -> dict[str, Any]:
    """An order that went through the whole pipeline to SHIPPED (stock set for each line first)."""
    for sku, quantity, _ in lines:
        oms.set_stock(sku, quantity + 5)
    # A buyer of its own: good standing counts the buyer's cases, and tests share one stack.
    body.setdefault("buyer", {"id": f"buyer-{uuid.uuid4().hex[:10]}"})
    order, execution = oms.run(order_body(lines, **body))
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED", order["status"]
    return order


def one_line_order(
    oms: Any, quantity: int = 1, price: str = "50.00", **body: Any
) -> tuple[dict[str, Any], str]:
    sku = new_sku("AS")
    return shipped_order(oms, [(sku, quantity, price)], **body), sku


def open_case(
    caller: Any, order_id: str, kind: str, lines: list[dict[str, Any]] | None = None, **extra: Any
) -> Any:
    body: dict[str, Any] = {"kind": kind, "reason": extra.pop("reason", "quality"), **extra}
    if lines is not None:
        body["lines"] = lines
    return caller.call("POST", f"/orders/{order_id}/aftersales", body)


def status_of(case_id: str) -> str:
    return str(service.get_case(case_id).status)


def wait_case(
    oms: Any, case_id: str, *statuses: str, advance: bool = False, timeout: float = WAIT_BOUND_SECONDS
) -> dict[str, Any]:
    """Until the case is in one of `statuses` and the stack is quiet; the case as GET returns it."""
    oms.stack.run_until(lambda: status_of(case_id) in statuses, timeout=timeout, advance=advance)
    oms.stack.settle()
    response = oms.call("GET", f"/aftersales/{case_id}")
    assert response.status == 200, response.body
    found: dict[str, Any] = response.json()
    assert found["status"] in statuses, found["status"]
    return found


def wait_assessed(oms: Any, case_id: str) -> dict[str, Any]:
    """Until the rules looked at the case (it then waits for a person, or moved on)."""
    oms.stack.run_until(lambda: service.get_case(case_id).assessed_at is not None, advance=False)
    oms.stack.settle()
    found: dict[str, Any] = oms.call("GET", f"/aftersales/{case_id}").json()
    return found


def confirm_refund(oms: Any, case: dict[str, Any], caller: Any = None) -> Any:
    return (caller or oms).call(
        "POST", f"/refunds/{case['refund_id']}/callback", {"status": "succeeded", "amount": case["amount"]}
    )


def order_events(order_id: str) -> list[str]:
    return [e.type for e in repository.load_aggregate(order_id).events]


def finished(oms: Any, case: dict[str, Any]) -> dict[str, Any]:
    """Wait for the case's execution to end; the execution as described."""
    described = oms.stack.wait_for_execution(case["execution_arn"])
    assert described["status"] == "SUCCEEDED", described
    return described


@contextmanager
def aftersales_rules(oms: Any, **fields: Any) -> Iterator[None]:
    before = oms.call("GET", "/rules").json()
    document = {**before, "aftersales": {**before["aftersales"], **fields}, "comment": "aftersales test"}
    stored = oms.call("PUT", "/rules", document)
    assert stored.status == 200, stored.body
    try:
        yield
    finally:
        latest = oms.call("GET", "/rules").json()
        restored = oms.call("PUT", "/rules", {**before, "version": latest["version"]})
        assert restored.status == 200, restored.body


def return_schedule(stack: Any, case_id: str) -> dict[str, Any] | None:
    """The case's return-deadline schedule as Scheduler holds it (None: none, or fired and deleted)."""
    from functions.aftersales.timers import schedule_name

    client = stack.session.client("scheduler")
    for group in client.list_schedule_groups()["ScheduleGroups"]:
        try:
            found: dict[str, Any] = client.get_schedule(Name=schedule_name(case_id), GroupName=group["Name"])
        except client.exceptions.ResourceNotFoundException:
            continue
        return found
    return None
