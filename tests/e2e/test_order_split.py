"""POST /orders/{id}/changes/split: ops move lines into a second shipment group before shipment; the
running execution ships them in a parcel of their own from the same warehouse, stock exact, the
history saying who and why; idempotent by reference; after shipment 409 AFTER_SHIPMENT."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core import repository
from tests.e2e.stock_support import allocation_rules, assert_conserved, eventually
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def split(oms: Any, order_id: str, skus: list[str], reference: str, role: str = "ops") -> Any:
    return oms.as_role(role, "ops.li").call(
        "POST",
        f"/orders/{order_id}/changes/split",
        {"skus": skus, "reason": "fragile item apart", "reference": reference},
    )


def test_a_line_split_off_ships_in_its_own_parcel_from_the_same_warehouse(oms, stack):
    a, b, c = new_sku(), new_sku(), new_sku()
    for sku in (a, b, c):
        oms.set_stock(sku, 5)
    with allocation_rules(oms, merge_window_minutes=30):
        posted = oms.post(order_body([(a, 1), (b, 2), (c, 1)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")

        answer = split(oms, order_id, [b], "split-1")
        assert answer.status == 200, answer.body
        assert (answer.json()["group"], answer.json()["repeated"]) == (2, False)
        assert split(oms, order_id, [b], "split-1").json()["repeated"] is True
        assert split(oms, order_id, [a, b, c], "split-2").json()["error"]["code"] == "NOTHING_LEFT"
        assert split(oms, order_id, [b], "split-3", role="viewer").status == 403
        assert oms.stock(b) == {"on_hand": 5, "reserved": 2, "available": 3}  # nothing moved
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert len(oms.executions_named(order_id)) == 1
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    parcels = {
        s["shipment_id"]: sorted((i["sku"], i["quantity"]) for i in s["lines"]) for s in order["shipments"]
    }
    assert parcels == {
        f"{order_id}-WH-MAIN": sorted([(a, 1), (c, 1)]),
        f"{order_id}-WH-MAIN-G2": [(b, 2)],
    }
    assert len({s["tracking_number"] for s in order["shipments"]}) == 2
    assert {s["warehouse"] for s in order["shipments"]} == {"WH-MAIN"}
    for sku, left in ((a, 4), (b, 3), (c, 4)):
        assert oms.stock(sku) == {"on_hand": left, "reserved": 0, "available": left}
        assert_conserved(sku)
    (event,) = [e for e in repository.load_aggregate(order_id).events if e.type == "order.split"]
    assert (event.actor, event.detail["group"], event.detail["reason"]) == (
        "user:ops.li",
        2,
        "fragile item apart",
    )
    late = split(oms, order_id, [a], "split-late")
    assert (late.status, late.json()["error"]["code"]) == (409, "AFTER_SHIPMENT")


def test_an_order_without_reserved_stock_cannot_be_split_yet(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    posted = oms.post(order_body([(a, 1, "6000.00"), (b, 1)]))  # high value: held before allocation
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "ON_HOLD", what="held")
    refused = split(oms, order_id, [b], "early")
    assert (refused.status, refused.json()["error"]["code"]) == (409, "NOT_ALLOCATED")
    unknown = split(oms, order_id, ["NOPE-9"], "early-2")
    assert (unknown.status, unknown.json()["error"]["fields"][0]["field"]) == (422, "skus[0]")
