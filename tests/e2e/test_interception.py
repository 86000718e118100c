"""Exception interception (异常订单拦截) through the real state machine: at each stage before shipment,
while waiting on a hold, in the middle of a stage's work, and refused once the order has shipped."""

from __future__ import annotations

import pytest

from functions.core import clock, repository
from tests.factories import new_sku, order_body, stored_order
from tests.review_helpers import holds, intercept, post_and_hold, review, wait_until_waiting

pytestmark = pytest.mark.e2e

# (the stage's function, the interception's recorded stage, the status the order had when stopped:
# review's approval is written with allocation's change, docs/adr/0007)
STAGES = [
    ("ReviewFunction", "review", "RECEIVED"),
    ("AllocateFunction", "allocate", "RECEIVED"),
    ("ShipFunction", "ship", "ALLOCATED"),
]


class intercept_before:
    """before_invoke hook: ops intercept the order just before `function_name` runs for it (once)."""

    def __init__(self, oms, function_name: str, action: str, reason: str = "buyer asked to cancel") -> None:
        self.oms, self.function_name, self.action, self.reason = oms, function_name, action, reason
        self.responses: list = []

    def __call__(self, name: str, event: dict) -> None:
        if name == self.function_name and not self.responses:
            self.responses.append(intercept(self.oms, event["order_id"], self.action, self.reason))


def _types(order_id: str) -> list[str]:
    return [e.type for e in repository.load_aggregate(order_id).events]


@pytest.mark.parametrize(("function_name", "stage", "status_then"), STAGES, ids=[s[1] for s in STAGES])
def test_cancel_interception_stops_the_order_at_the_next_stage_and_releases_stock(
    oms, stack, function_name, stage, status_then
):
    sku = new_sku()
    oms.set_stock(sku, 10)
    hook = intercept_before(oms, function_name, "cancel")
    stack.runtime.before_invoke = hook
    order, execution = oms.run(order_body([(sku, 3)]))

    (response,) = hook.responses
    assert response.status == 202, response.body
    assert response.json()["status"] == status_then
    assert response.json()["interception"]["state"] == "requested"
    assert execution["status"] == "SUCCEEDED"
    states = oms.states_entered(order["execution_arn"])
    assert states[-3:] == ["Intercepted", "InterceptionOutcome", "Cancelled"]
    assert "Ship" not in states or stage == "ship"
    assert "Fulfilled" not in states

    assert order["status"] == "CANCELLED"
    interception = order["interception"]
    assert interception["state"] == "applied"
    assert interception["action"] == "cancel"
    assert interception["actor"] == "user:ops.li"
    assert interception["reason"] == "buyer asked to cancel"
    assert interception["stage"] == stage
    assert interception["released"] == (1 if stage == "ship" else 0)
    assert order["shipments"] == []
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    events = repository.load_aggregate(order["order_id"]).events
    requested = next(e for e in events if e.type == "order.intercept_requested")
    applied = next(e for e in events if e.type == "order.intercepted")
    assert requested.actor == "user:ops.li"
    assert applied.actor == "stage:intercept"
    assert applied.detail["requested_by"] == "user:ops.li"
    assert applied.to_status == "CANCELLED"


@pytest.mark.parametrize(("function_name", "stage", "status_then"), STAGES, ids=[s[1] for s in STAGES])
def test_hold_interception_keeps_stock_waits_for_a_person_and_approval_resumes(
    oms, stack, function_name, stage, status_then
):
    sku = new_sku()
    oms.set_stock(sku, 10)
    stack.runtime.before_invoke = intercept_before(oms, function_name, "hold", "address change requested")
    posted = oms.post(order_body([(sku, 3)]))
    answer = posted.json()
    wait_until_waiting(stack, answer["order_id"])
    stack.runtime.before_invoke = None

    held = oms.order(answer["order_id"])
    assert held["status"] == "ON_HOLD"
    assert held["interception"]["state"] == "applied"
    assert held["interception"]["stage"] == stage
    assert held["hold"]["source"] == "interception"
    assert held["hold"]["reasons"] == [{"code": "INTERCEPTED", "message": "address change requested"}]
    assert held["hold"]["resume"] == ("ship" if stage == "ship" else "allocate")
    kept = 3 if stage == "ship" else 0
    assert oms.stock(sku) == {"on_hand": 10, "reserved": kept, "available": 10 - kept}
    assert answer["order_id"] in [h["order_id"] for h in holds(oms, "INTERCEPTED")["holds"]]

    decided = review(oms, answer["order_id"], "approve", "address confirmed")
    assert decided.status == 200, decided.body
    assert decided.json()["status"] == ("ALLOCATED" if stage == "ship" else "APPROVED")
    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    states = oms.states_entered(answer["execution_arn"])
    assert states[-1] == "Fulfilled"
    assert states.count("Ship") == 1 + (stage == "ship")  # stopped once before Ship, then shipped
    order = oms.order(answer["order_id"])
    assert order["status"] == "SHIPPED"
    assert oms.stock(sku) == {"on_hand": 7, "reserved": 0, "available": 7}
    assert _types(answer["order_id"]).count("stock.reserved") == 1


def test_hold_interception_after_allocation_then_reject_releases_the_stock(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    stack.runtime.before_invoke = intercept_before(oms, "ShipFunction", "hold", "suspected fraud")
    answer = oms.post(order_body([(sku, 4)])).json()
    wait_until_waiting(stack, answer["order_id"])
    stack.runtime.before_invoke = None
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 4, "available": 6}

    decided = review(oms, answer["order_id"], "reject", "fraud confirmed")
    assert decided.status == 200, decided.body
    assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"
    assert oms.states_entered(answer["execution_arn"])[-1] == "Rejected"
    order = oms.order(answer["order_id"])
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "REVIEW_REJECTED"
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    reject_event = repository.load_aggregate(answer["order_id"]).events[-1]
    assert reject_event.type == "review.manual_reject"
    assert reject_event.detail["released"] == 1


def test_cancelling_an_order_that_waits_on_a_hold_stops_its_execution_at_once(oms, stack):
    answer = post_and_hold(oms, stack, order_body([(new_sku(), 1, "9000.00")]))
    response = intercept(oms, answer["order_id"], "cancel", "buyer cancelled")
    assert response.status == 202, response.body
    assert response.json()["wait_stopped"] is True

    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(answer["execution_arn"])[-4:] == [
        "AwaitReview",
        "Intercepted",
        "InterceptionOutcome",
        "Cancelled",
    ]
    order = oms.order(answer["order_id"])
    assert order["status"] == "CANCELLED"
    assert order["interception"]["stage"] == "hold"
    assert repository.get_wait_token(answer["order_id"]) is None
    late = review(oms, answer["order_id"], "approve")
    assert late.status == 409
    assert late.json()["error"]["code"] == "NOT_ON_HOLD"


def test_hold_interception_of_a_held_order_adds_the_reason_and_keeps_it_waiting(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 2)
    answer = post_and_hold(oms, stack, order_body([(sku, 1, "9000.00")]))
    first_token = repository.get_wait_token(answer["order_id"])
    response = intercept(oms, answer["order_id"], "hold", "check with the buyer")
    assert response.status == 202

    def rewaiting() -> bool:
        token = repository.get_wait_token(answer["order_id"])
        return token is not None and token != first_token

    from tests.review_helpers import wait_for

    wait_for(stack, rewaiting, what="a new wait")
    order = oms.order(answer["order_id"])
    assert order["status"] == "ON_HOLD"
    assert [r["code"] for r in order["hold"]["reasons"]] == ["HIGH_VALUE", "INTERCEPTED"]
    assert review(oms, answer["order_id"], "approve", "all fine").status == 200
    assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"
    assert oms.order(answer["order_id"])["status"] == "SHIPPED"


def test_interception_landing_in_the_middle_of_a_stage_is_never_overtaken(oms, stack, monkeypatch):
    """Allocate read the order before the flag and plans its reservation; its commit is refused (the
    interception moved the version on), the retry reads the flag, and nothing is ever reserved."""
    sku = new_sku()
    oms.set_stock(sku, 10)
    original = repository.get_stock_shards  # what allocation reads stock with
    landed: list = []

    def get_stock_then_intercept(sku_: str, warehouse: str | None = None):
        if not landed:
            order_id = next(iter(pending))
            landed.append(intercept(oms, order_id, "cancel", "buyer cancelled mid-allocation"))
        return original(sku_, warehouse)

    body = order_body([(sku, 3)])
    from tests.factories import order_id_of

    pending = {order_id_of(body)}
    monkeypatch.setattr(repository, "get_stock_shards", get_stock_then_intercept)
    order, execution = oms.run(body)
    monkeypatch.setattr(repository, "get_stock_shards", original)

    assert landed[0].status == 202
    assert landed[0].json()["status"] == "RECEIVED"  # review's approval travels with allocation's change
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "CANCELLED"
    assert order["interception"]["stage"] == "allocate"
    assert "stock.reserved" not in _types(order["order_id"])
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert oms.states_entered(order["execution_arn"]).count("Allocate") == 1  # one state, retried inside


def test_after_shipment_interception_is_refused_as_an_after_sales_case(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))
    assert order["status"] == "SHIPPED"

    response = intercept(oms, order["order_id"], "cancel")
    assert response.status == 409
    error = response.json()["error"]
    assert error["code"] == "AFTER_SALES"
    assert "after-sales" in error["message"]
    after = oms.order(order["order_id"])
    assert after["version"] == order["version"]
    assert after["interception"] is None


def test_a_final_order_cannot_be_intercepted(oms):
    order, _ = oms.run(order_body([(new_sku(), 1)]))  # never stocked: REJECTED
    response = intercept(oms, order["order_id"], "hold")
    assert response.status == 409
    assert response.json()["error"]["code"] == "ALREADY_FINAL"


def test_interception_request_is_idempotent_and_validated(oms):
    stored, event = stored_order(order_body([(new_sku(), 1)]), clock.now())
    assert repository.create_order(stored, event)  # no execution: the request stays pending
    order_id = stored.order_id

    first = intercept(oms, order_id, "cancel", "duplicate order")
    again = intercept(oms, order_id, "cancel", "duplicate order")
    other = intercept(oms, order_id, "hold", "something else")
    assert (first.status, first.json()["created"]) == (202, True)
    assert (again.status, again.json()["created"]) == (202, False)
    assert other.status == 409
    assert other.json()["error"]["code"] == "ALREADY_INTERCEPTED"
    assert _types(order_id).count("order.intercept_requested") == 1

    bad_action = oms.call("POST", f"/orders/{order_id}/intercept", {"reason": "x", "action": "stop"})
    assert bad_action.status == 422
    assert bad_action.json()["error"]["fields"][0]["loc"] == ["body", "action"]
    no_reason = oms.call("POST", f"/orders/{order_id}/intercept", {"action": "hold"})
    assert no_reason.status == 422
    assert no_reason.json()["error"]["fields"][0]["loc"] == ["body", "reason"]
    anonymous = oms.anonymous().call(
        "POST", f"/orders/{order_id}/intercept", {"reason": "x", "action": "hold"}
    )
    assert anonymous.status == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    viewer = oms.as_role("viewer").call(
        "POST", f"/orders/{order_id}/intercept", {"reason": "x", "action": "hold"}
    )
    assert viewer.status == 403
