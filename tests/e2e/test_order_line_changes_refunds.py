"""The refund a line change owes is settled when the payment provider (or the order's platform)
confirms it: POST /orders/{id}/changes/refunds/{reference}/callback moves `CHGREFUND#<reference>` from
`requested` to `refunded` with the provider's reference, once; a repeat changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core import repository
from functions.core.repository.change_refunds import get_change_refund
from tests.e2e.stock_support import allocation_rules, eventually
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def callback(caller: Any, order_id: str, reference: str, amount: str, provider: str = "PSP-77") -> Any:
    return caller.call(
        "POST",
        f"/orders/{order_id}/changes/refunds/{reference}/callback",
        {"status": "succeeded", "amount": amount, "provider_reference": provider},
    )


def test_a_change_refund_ends_refunded_with_the_providers_reference(oms, stack):
    a, b, c = new_sku(), new_sku(), new_sku()
    for sku in (a, b, c):
        oms.set_stock(sku, 5)
    body = order_body([(a, 1, "33.33"), (b, 1, "33.33"), (c, 1, "33.33")], platform="tmall")
    with allocation_rules(oms, merge_window_minutes=30):
        posted = oms.post(body)
        assert posted.status == 201, posted.body
        order_id = posted.json()["order_id"]
        eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")
        changed = oms.as_role("ops", "ops.li").call(
            "POST",
            f"/orders/{order_id}/changes/lines",
            {"lines": [{"sku": c, "quantity": 0}], "reason": "buyer asked", "reference": "chg-c"},
        )
        assert changed.status == 200, changed.body
        oms.wait(posted.json()["execution_arn"])
    owed = get_change_refund(order_id, "chg-c")
    assert owed is not None
    assert (owed.status, str(owed.amount), owed.provider_reference) == ("requested", "33.33", None)

    assert callback(oms.as_platform("jd"), order_id, "chg-c", "33.33").status == 404  # not its order
    wrong = callback(oms, order_id, "chg-c", "33.34")
    assert (wrong.status, wrong.json()["error"]["code"]) == (422, "AMOUNT_MISMATCH")
    unknown = callback(oms, order_id, "chg-none", "33.33")
    assert (unknown.status, unknown.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert get_change_refund(order_id, "chg-c").status == "requested"  # type: ignore[union-attr]

    confirmed = callback(oms.as_platform("tmall"), order_id, "chg-c", "33.33")
    assert confirmed.status == 200, confirmed.body
    assert confirmed.json()["applied"] is True
    assert (confirmed.json()["refund"]["status"], confirmed.json()["refund"]["provider_reference"]) == (
        "refunded",
        "PSP-77",
    )
    settled = get_change_refund(order_id, "chg-c")
    assert settled is not None
    assert (settled.status, settled.provider_reference, settled.settled_by) == (
        "refunded",
        "PSP-77",
        "platform:tmall",
    )

    again = callback(oms, order_id, "chg-c", "33.33", provider="PSP-other")
    assert (again.status, again.json()["applied"]) == (200, False)
    assert get_change_refund(order_id, "chg-c").provider_reference == "PSP-77"  # type: ignore[union-attr]
    events = [
        e for e in repository.load_aggregate(order_id).events if e.type == "order.change_refund_settled"
    ]
    assert [(e.actor, e.detail["reference"], e.detail["amount"]) for e in events] == [
        ("platform:tmall", "chg-c", "33.33")
    ]
