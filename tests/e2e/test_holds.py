"""Review through the real state machine: auto-pass, hold then approve, hold then reject, the held queue,
two reviewers racing, and escalation of holds nobody decides."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import pytest

from functions.core import repository, workflow
from functions.holds.service import escalate_hold, escalate_overdue_holds
from tests.factories import address, new_sku, order_body
from tests.review_helpers import holds, post_and_hold, review

pytestmark = pytest.mark.e2e


def _events(order_id: str) -> list:
    return repository.load_aggregate(order_id).events


def test_clean_order_passes_review_automatically_and_records_the_rules_version(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    current_version = oms.call("GET", "/rules").json()["version"]
    order, execution = oms.run(order_body([(sku, 1)]))

    assert execution["status"] == "SUCCEEDED"
    assert "AwaitReview" not in oms.states_entered(order["execution_arn"])
    assert order["status"] == "SHIPPED"
    assert order["review"] == {"decision": "approve", "reasons": []}
    assert order["rules_version"] == current_version
    assert order["hold"] is None
    assert order["manual_review"] is None
    review_event = _events(order["order_id"])[1]
    assert review_event.type == "review.approve"
    assert review_event.detail["rules_version"] == current_version


def test_held_order_waits_for_a_person_then_approval_ships_it(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    answer = post_and_hold(oms, stack, order_body([(sku, 2, "3000.00")]))
    order_id = answer["order_id"]

    held = oms.order(order_id)
    assert held["status"] == "ON_HOLD"
    assert held["hold"]["source"] == "review"
    assert [r["code"] for r in held["hold"]["reasons"]] == ["HIGH_VALUE"]
    assert held["hold"]["resume"] == "allocate"
    assert "wait_token" not in held  # the capability to resume stays on the server
    assert datetime.fromisoformat(held["hold"]["escalate_at"]) > datetime.fromisoformat(held["hold"]["since"])
    assert order_id in [h["order_id"] for h in holds(oms, "HIGH_VALUE")["holds"]]

    decided = review(oms, order_id, "approve", "called the buyer, genuine", actor="ops.zhao")
    assert decided.status == 200, decided.body
    assert decided.json()["status"] == "APPROVED"
    assert decided.json()["execution_resumed"] is True

    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    states = oms.states_entered(answer["execution_arn"])
    assert states[states.index("AwaitReview") :] == [
        "AwaitReview",
        "ReviewResumed",
        "Allocate",
        "AllocationOutcome",
        "PaymentGate",  # paid on arrival: straight on to Ship (functions/payment)
        "Ship",
        "Fulfilled",
    ]
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["manual_review"]["decision"] == "approve"
    assert order["manual_review"]["actor"] == "user:ops.zhao"
    assert order["manual_review"]["comment"] == "called the buyer, genuine"
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}
    events = _events(order_id)
    assert [e.type for e in events] == [
        "order.received",
        "review.hold",
        "review.manual_approve",
        "stock.reserved",
        "order.shipped",
    ]
    assert events[2].actor == "user:ops.zhao"
    assert events[2].detail["held_for"] == ["HIGH_VALUE"]
    assert order_id not in [h["order_id"] for h in holds(oms)["holds"]]


def test_held_order_rejected_by_a_person_ends_rejected_with_why(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    answer = post_and_hold(oms, stack, order_body([(sku, 1)], shipping_address=address(postal_code=None)))

    decided = review(oms, answer["order_id"], "reject", "address cannot be completed")
    assert decided.status == 200, decided.body
    assert decided.json()["status"] == "REJECTED"

    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(answer["execution_arn"])[-2:] == ["ReviewResumed", "Rejected"]
    order = oms.order(answer["order_id"])
    assert order["status"] == "REJECTED"
    assert order["rejection"] == {"code": "REVIEW_REJECTED", "message": "address cannot be completed"}
    assert order["manual_review"]["decision"] == "reject"
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}


def test_decision_is_idempotent_and_refused_once_the_order_moved_on(oms, stack):
    answer = post_and_hold(oms, stack, order_body([(new_sku(), 1, "6000.00")]))
    order_id = answer["order_id"]
    assert review(oms, order_id, "reject", "fraud pattern").status == 200
    oms.wait(answer["execution_arn"])

    again = review(oms, order_id, "reject", "fraud pattern")
    assert again.status == 200
    assert again.json()["repeated"] is True
    assert again.json()["execution_resumed"] is False  # nothing waits any more; nothing changes
    other = review(oms, order_id, "approve", "changed my mind")
    assert other.status == 409
    assert other.json()["error"]["code"] == "NOT_ON_HOLD"
    assert [e.type for e in _events(order_id)].count("review.manual_reject") == 1


def test_review_of_an_order_that_is_not_held_is_409(oms):
    order, _ = oms.run(order_body([(new_sku(), 1)]))  # out of stock: REJECTED by allocation
    response = review(oms, order["order_id"], "approve")
    assert response.status == 409
    assert response.json()["error"]["code"] == "NOT_ON_HOLD"


def test_review_input_is_validated_and_names_the_field(oms, stack):
    answer = post_and_hold(oms, stack, order_body([(new_sku(), 1, "6000.00")]))
    order_id = answer["order_id"]
    no_comment = oms.call("POST", f"/orders/{order_id}/review", {"decision": "reject"})
    assert no_comment.status == 422
    assert no_comment.json()["error"]["fields"][0]["loc"] == ["body", "comment"]
    bad = oms.call("POST", f"/orders/{order_id}/review", {"decision": "maybe"})
    assert bad.status == 422
    assert bad.json()["error"]["fields"][0]["loc"] == ["body", "decision"]
    anonymous = oms.anonymous().call("POST", f"/orders/{order_id}/review", {"decision": "approve"})
    assert anonymous.status == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    viewer = oms.as_role("viewer").call("POST", f"/orders/{order_id}/review", {"decision": "approve"})
    assert viewer.status == 403
    assert oms.order(order_id)["status"] == "ON_HOLD"  # nothing was decided
    assert review(oms, order_id, "reject", "cleanup").status == 200
    oms.wait(answer["execution_arn"])


def test_two_reviewers_racing_one_decision_wins_and_the_execution_follows_it(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    answer = post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")]))
    order_id = answer["order_id"]
    results: dict[str, int] = {}
    start = threading.Barrier(2)

    def decide(decision: str) -> None:
        start.wait()
        response = review(oms, order_id, decision, f"{decision} by racer", actor=f"ops.{decision}")
        while response.status == 503:  # the loser of the conditional write is told to retry
            response = review(oms, order_id, decision, f"{decision} by racer", actor=f"ops.{decision}")
        results[decision] = response.status

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(results.values()) == [200, 409]
    winner = next(d for d, status in results.items() if status == 200)
    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["manual_review"]["decision"] == winner
    assert order["status"] == ("SHIPPED" if winner == "approve" else "REJECTED")
    assert oms.states_entered(answer["execution_arn"])[-1] == (
        "Fulfilled" if winner == "approve" else "Rejected"
    )
    manual = [e for e in _events(order_id) if e.type.startswith("review.manual_")]
    assert len(manual) == 1


def test_hold_queue_lists_held_orders_by_reason_oldest_first(oms, stack):
    value = post_and_hold(oms, stack, order_body([(new_sku(), 1, "7000.00")]))
    stack.clock.advance(1)
    address_hold = post_and_hold(
        oms, stack, order_body([(new_sku(), 1)], shipping_address=address(region=None))
    )
    stack.clock.advance(1)
    both = post_and_hold(
        oms, stack, order_body([(new_sku(), 1, "7000.00")], shipping_address=address(region=None))
    )
    ids = [value["order_id"], address_hold["order_id"], both["order_id"]]

    by_value = [h["order_id"] for h in holds(oms, "HIGH_VALUE")["holds"]]
    by_address = [h["order_id"] for h in holds(oms, "ADDRESS_INCOMPLETE")["holds"]]
    assert [i for i in by_value if i in ids] == [value["order_id"], both["order_id"]]
    assert [i for i in by_address if i in ids] == [address_hold["order_id"], both["order_id"]]
    everything = holds(oms)
    listed = [h for h in everything["holds"] if h["order_id"] in ids]
    assert [h["order_id"] for h in listed] == ids  # oldest hold first
    entry = listed[2]
    assert {r["code"] for r in entry["reasons"]} == {"HIGH_VALUE", "ADDRESS_INCOMPLETE"}
    assert entry["total"] == "7000.00"
    assert "shipping_address" not in entry
    assert "buyer" not in entry
    assert everything["by_reason"]["HIGH_VALUE"] >= 2
    assert oms.call("GET", "/holds?reason=lowercase").status == 422

    for answer in (value, address_hold, both):
        assert review(oms, answer["order_id"], "reject", "cleanup").status == 200
        oms.wait(answer["execution_arn"])
    assert not [h for h in holds(oms)["holds"] if h["order_id"] in ids]


def test_a_hold_nobody_decides_is_escalated_once_when_due(oms, stack):
    answer = post_and_hold(oms, stack, order_body([(new_sku(), 1, "8000.00")]))
    order_id = answer["order_id"]
    hold = oms.order(order_id)["hold"]
    due = datetime.fromisoformat(hold["escalate_at"])

    assert escalate_hold(order_id) is False  # not due yet
    stack.clock.advance_to(due)
    stack.settle()  # the hold's escalation schedule fires at `due` (functions/holds/escalation.py)
    assert escalate_hold(order_id) is False  # a second firing changes nothing
    assert order_id not in escalate_overdue_holds()

    entry = next(h for h in holds(oms)["holds"] if h["order_id"] == order_id)
    assert entry["escalated"] is True
    order = oms.order(order_id)
    assert order["status"] == "ON_HOLD"
    assert order["hold"]["escalated_at"] == due.isoformat().replace("+00:00", "Z")
    escalations = [e for e in _events(order_id) if e.type == "hold.escalated"]
    assert len(escalations) == 1
    assert escalations[0].actor == "timer:hold-escalation"

    # Escalated or not, the person's decision still resumes the execution.
    assert review(oms, order_id, "reject", "escalated and refused").status == 200
    assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"
    assert oms.order(order_id)["status"] == "REJECTED"


def test_resuming_with_a_token_nobody_waits_on_reports_false(oms):
    assert workflow.send_task_success(f"no-such-token-{uuid.uuid4().hex}", {"decision": "approve"}) is False
    assert (
        workflow.send_task_failure(f"no-such-token-{uuid.uuid4().hex}", "OrderInterceptedError", "x") is False
    )
