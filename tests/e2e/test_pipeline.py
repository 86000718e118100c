"""Orders through the real state machine and handlers: every way an order can end, and what it leaves."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from functions.ship.logic import tracking_number
from tests.factories import address, new_sku, order_body, order_id_of
from tests.review_helpers import post_and_hold, review

pytestmark = pytest.mark.e2e


def test_happy_path_ships_and_moves_stock(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 3, "10.00")])

    posted = oms.post(body)
    assert posted.status == 201
    answer = posted.json()
    assert answer["order_id"] == order_id_of(body)
    assert answer["created"] is True
    assert answer["status"] == "RECEIVED"

    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(answer["execution_arn"])[-1] == "Fulfilled"

    order = oms.order(answer["order_id"])
    assert order["status"] == "SHIPPED"
    assert order["review"] == {"decision": "approve", "reasons": []}
    assert order["execution_arn"] == answer["execution_arn"]
    assert "request_hash" not in order
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 7, "reserved": 0, "available": 7}

    (shipment,) = order["shipments"]
    assert order["shipment_ids"] == [shipment["shipment_id"]]
    assert shipment["warehouse"] == "WH-MAIN"
    assert shipment["lines"] == [{"sku": sku, "warehouse": "WH-MAIN", "quantity": 3}]
    assert re.fullmatch(r"SF\d{12}", shipment["tracking_number"])
    assert shipment["tracking_number"] == tracking_number(shipment["carrier"], shipment["shipment_id"])


def test_created_order_answers_with_its_location(oms):
    posted = oms.post(order_body())
    assert posted.status == 201
    assert posted.headers.get("Location") == f"/orders/{posted.json()['order_id']}"
    assert posted.headers.get("Content-Type") == "application/json"


def test_happy_path_history_records_each_step_with_its_execution(oms, stack):
    from functions.core import repository

    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))

    events = repository.load_aggregate(order["order_id"]).events
    assert [e.to_status for e in events] == ["RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED"]
    assert [e.from_status for e in events] == [None, "RECEIVED", "APPROVED", "ALLOCATED"]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.actor for e in events] == ["platform:tmall", "stage:review", "stage:allocate", "stage:ship"]
    assert all(e.execution_id == order["execution_arn"] for e in events[1:])
    assert order["version"] == 4
    assert events[2].detail["reservations"] == [{"sku": sku, "warehouse": "WH-MAIN", "quantity": 1}]


def test_lines_from_several_warehouses_ship_separately(oms):
    near, far = new_sku(), new_sku()
    oms.set_stock(near, 4)
    oms.set_stock(far, 1)  # too little in the preferred warehouse ...
    oms.set_stock(far, 6, warehouse="WH-EAST")  # ... so it comes from here
    order, execution = oms.run(order_body([(near, 2), (far, 3)]))

    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    by_warehouse = {s["warehouse"]: s for s in order["shipments"]}
    assert set(by_warehouse) == {"WH-MAIN", "WH-EAST"}
    assert by_warehouse["WH-MAIN"]["lines"] == [{"sku": near, "warehouse": "WH-MAIN", "quantity": 2}]
    assert by_warehouse["WH-EAST"]["lines"] == [{"sku": far, "warehouse": "WH-EAST", "quantity": 3}]
    assert by_warehouse["WH-MAIN"]["tracking_number"] != by_warehouse["WH-EAST"]["tracking_number"]
    assert oms.stock(near) == {"on_hand": 2, "reserved": 0, "available": 2}
    assert oms.stock(far) == {"on_hand": 1, "reserved": 0, "available": 1}
    assert oms.stock(far, "WH-EAST") == {"on_hand": 3, "reserved": 0, "available": 3}


def test_review_reject_moves_no_stock(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    order, execution = oms.run(order_body([(sku, 2, "10.00")], total="99.00"))

    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(order["execution_arn"])[-1] == "Rejected"
    assert "Allocate" not in oms.states_entered(order["execution_arn"])
    assert order["status"] == "REJECTED"
    assert order["review"]["decision"] == "reject"
    assert [r["code"] for r in order["review"]["reasons"]] == ["TOTAL_MISMATCH"]
    assert order["shipments"] == []
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}


# A held order used to end its execution in a HeldForReview state. It now waits in its execution for a
# person (AwaitReview, a task token) until POST /orders/{id}/review decides: see tests/e2e/test_holds.py.
def test_high_value_order_is_held_for_review(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    answer = post_and_hold(oms, stack, order_body([(sku, 2, "3000.00")]))

    assert oms.stack.describe_execution(answer["execution_arn"])["status"] == "RUNNING"
    assert oms.states_entered(answer["execution_arn"])[-1] == "AwaitReview"
    order = oms.order(answer["order_id"])
    assert order["status"] == "ON_HOLD"
    assert order["review"]["decision"] == "hold"
    assert [r["code"] for r in order["review"]["reasons"]] == ["HIGH_VALUE"]
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert review(oms, answer["order_id"], "reject", "test over").status == 200
    assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"


def test_incomplete_address_is_held(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    answer = post_and_hold(oms, stack, order_body([(sku, 1)], shipping_address=address(postal_code=None)))
    order = oms.order(answer["order_id"])
    assert order["status"] == "ON_HOLD"
    assert [r["code"] for r in order["review"]["reasons"]] == ["ADDRESS_INCOMPLETE"]
    assert review(oms, answer["order_id"], "reject", "test over").status == 200
    assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"


def test_out_of_stock_is_rejected_and_stock_untouched(oms):
    sku = new_sku()
    oms.set_stock(sku, 1)
    order, execution = oms.run(order_body([(sku, 2)]))

    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(order["execution_arn"])[-1] == "Rejected"
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "OUT_OF_STOCK"
    assert sku in order["rejection"]["message"]
    assert order["review"]["decision"] == "approve"
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 1, "reserved": 0, "available": 1}


def test_unknown_sku_is_out_of_stock(oms):
    order, _ = oms.run(order_body([(new_sku("NEVER-STOCKED"), 1)]))
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "OUT_OF_STOCK"


def test_one_short_line_rejects_the_whole_order_and_reserves_nothing(oms):
    plenty, scarce = new_sku(), new_sku()
    oms.set_stock(plenty, 10)
    oms.set_stock(scarce, 1)
    order, _ = oms.run(order_body([(plenty, 2), (scarce, 5)]))

    assert order["status"] == "REJECTED"
    # the reason names the short SKU with what was asked and what there is
    assert order["rejection"] == {"code": "OUT_OF_STOCK", "message": f"{scarce} (need 5, available 1)"}
    assert order["allocation"]["short"] == [{"sku": scarce, "requested": 5, "available": 1}]
    assert oms.stock(plenty) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert oms.stock(scarce) == {"on_hand": 1, "reserved": 0, "available": 1}


def test_history_api_merges_order_and_workflow_timelines(oms):
    sku = new_sku()
    oms.set_stock(sku, 3)
    order, _ = oms.run(order_body([(sku, 1)]))

    response = oms.history(order["order_id"])
    assert response.status == 200
    history = response.json()
    assert history["order_id"] == order["order_id"]
    assert history["status"] == "SHIPPED"
    assert history["execution"]["arn"] == order["execution_arn"]
    assert history["execution"]["status"] == "SUCCEEDED"
    assert history["execution"]["stopped_at"] is not None

    timeline = history["timeline"]
    assert {entry["source"] for entry in timeline} == {"order", "workflow"}
    moments = [datetime.fromisoformat(entry["at"]) for entry in timeline]
    assert moments == sorted(moments)
    order_entries = [e for e in timeline if e["source"] == "order"]
    assert [e["to_status"] for e in order_entries] == ["RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED"]
    workflow_types = [e["type"] for e in timeline if e["source"] == "workflow"]
    assert workflow_types[0] == "ExecutionStarted"
    assert workflow_types[-1] == "ExecutionSucceeded"
    states = [
        e.get("state") for e in timeline if e["source"] == "workflow" and e["type"] == "TaskStateEntered"
    ]
    assert states == ["Review", "Allocate", "Ship"]
    # paid on arrival, nothing waited: the whole path ran on the fast path (Express), read from its
    # log records, which carry no execution data
    assert [(e["kind"], e["status"]) for e in history["executions"]] == [("express", "SUCCEEDED")]
    assert {e["workflow"] for e in timeline if e["source"] == "workflow"} == {"express"}
    assert not any("input" in e or "output" in e for e in timeline if e["source"] == "workflow")


def test_unknown_order_is_404(oms):
    unknown = order_id_of(order_body())
    for response in (oms.get(unknown), oms.history(unknown)):
        assert response.status == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"


def test_malformed_order_id_is_refused(oms):
    response = oms.get("not-an-order-id")
    assert response.status == 422
    assert response.json()["error"]["fields"][0]["loc"] == ["path", "order_id"]
