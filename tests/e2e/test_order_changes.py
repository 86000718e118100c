"""POST /orders/{id}/changes/address: before shipment the address changes in one conditional write, is
re-reviewed (a blacklisted address sends the running order to the review queue, no second execution),
recorded with who and why, and idempotent by reference; after shipment 409 AFTER_SHIPMENT."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core import repository
from tests.factories import address, new_sku, order_body
from tests.review_helpers import post_and_hold, put_rules, review, rules, with_review

pytestmark = pytest.mark.e2e


def _change(
    oms: Any, order_id: str, new_address: dict[str, Any], reference: str, actor: str = "ops.li"
) -> Any:
    return oms.as_role("ops", actor).call(
        "POST",
        f"/orders/{order_id}/changes/address",
        {"shipping_address": new_address, "reason": "buyer moved", "reference": reference},
    )


def test_address_change_before_shipment_is_applied_recorded_and_idempotent(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 3)
    held = post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")]))
    moved = address(line1="88 New Road", city="Hangzhou")

    answer = _change(oms, held["order_id"], moved, "chg-1")
    assert answer.status == 200, answer.body
    assert (answer.json()["repeated"], answer.json()["held"], answer.json()["status"]) == (
        False,
        False,
        "ON_HOLD",
    )
    again = _change(oms, held["order_id"], moved, "chg-1")
    assert again.json()["repeated"] is True
    other = _change(oms, held["order_id"], address(line1="1 Other St"), "chg-1")
    assert (other.status, other.json()["error"]["code"]) == (409, "REFERENCE_REUSED")

    events = [
        e for e in repository.load_aggregate(held["order_id"]).events if e.type == "order.address_changed"
    ]
    assert len(events) == 1
    assert events[0].actor == "user:ops.li"
    assert events[0].detail == {"reason": "buyer moved", "reference": "chg-1", "review": []}
    assert "88 New Road" not in str(events[0].detail)  # no personal data in the history

    assert review(oms, held["order_id"], "approve").status == 200
    oms.wait(held["execution_arn"])
    shipped = oms.order(held["order_id"])
    assert shipped["status"] == "SHIPPED"
    assert shipped["shipping_address"]["line1"] == "88 New Road"
    assert len(oms.executions_named(held["order_id"])) == 1

    late = _change(oms, held["order_id"], address(line1="2 Late St"), "chg-2")
    assert (late.status, late.json()["error"]["code"]) == (409, "AFTER_SHIPMENT")
    assert "after-sales" in late.json()["error"]["message"]
    assert oms.order(held["order_id"])["shipping_address"]["line1"] == "88 New Road"


def test_a_blacklisted_new_address_sends_the_running_order_to_review(oms, stack):
    document = rules(oms)
    assert (
        put_rules(
            oms, with_review(document, blacklisted_addresses=["Fraud Lane 13"], blacklist_action="reject")
        ).status
        == 200
    )
    sku = new_sku()
    oms.set_stock(sku, 3)
    posted = oms.post(order_body([(sku, 1)], payment={"status": "unpaid"}))
    order_id = posted.json()["order_id"]
    stack.run_until(lambda: repository.get_order(order_id).status == "AWAITING_PAYMENT", 20, advance=False)

    answer = _change(oms, order_id, address(line1="Fraud Lane 13"), "chg-bl")
    assert answer.status == 200, answer.body
    assert answer.json()["held"] is True
    assert [r["code"] for r in answer.json()["review"]["reasons"]] == ["BLACKLISTED_ADDRESS"]

    stack.run_until(lambda: repository.get_order(order_id).status == "ON_HOLD", 20, advance=False)
    order = oms.order(order_id)
    assert order["hold"]["reasons"][0]["code"] == "INTERCEPTED"
    assert order["reservations"]  # the stock stays reserved while a person looks
    assert len(oms.executions_named(order_id)) == 1  # the same execution learnt of it
    types = [e.type for e in repository.load_aggregate(order_id).events]
    assert types.index("order.address_changed") < types.index("order.intercepted")
    put_rules(oms, rules(oms) | {"review": document["review"]})
