"""POST /holds/decisions: ops approve or reject many held orders at once, a result per order; orders
that moved on (decided by someone else, changed since seen, unknown) are reported, never hidden."""

from __future__ import annotations

from collections import Counter

import pytest

from functions.core import repository
from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, review

pytestmark = pytest.mark.e2e


def _held(oms, stack) -> str:
    sku = new_sku()
    oms.set_stock(sku, 5)
    return str(post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")]))["order_id"])


def test_bulk_approve_with_a_mix_of_held_and_stale_orders(oms, stack):
    fresh, other, decided, changed = (_held(oms, stack) for _ in range(4))
    assert review(oms, decided, "reject", "fraud ring").status == 200  # decided by a colleague first
    seen = oms.order(changed)["version"]
    assert oms.as_role("ops", "ops.wu").call(
        "POST", f"/orders/{changed}/intercept", {"reason": "x", "action": "hold"}
    ).status in (200, 202)
    unknown = "ord-" + "0" * 24

    answer = oms.as_role("ops", "ops.zhang").call(
        "POST",
        "/holds/decisions",
        {
            "decision": "approve",
            "comment": "checked by phone",
            "orders": [
                {"order_id": fresh},
                {"order_id": decided},
                {"order_id": other, "version": oms.order(other)["version"]},
                {"order_id": changed, "version": seen},
                {"order_id": unknown},
            ],
        },
    )
    assert answer.status == 200, answer.body
    body = answer.json()
    by_id = {r["order_id"]: r for r in body["results"]}
    assert [r["order_id"] for r in body["results"]] == [fresh, decided, other, changed, unknown]
    assert by_id[fresh]["outcome"] == "applied"
    assert by_id[fresh]["execution_resumed"] is True
    assert by_id[other]["outcome"] == "applied"
    assert (by_id[decided]["outcome"], by_id[decided]["code"], by_id[decided]["status"]) == (
        "stale",
        "NOT_ON_HOLD",
        "REJECTED",
    )
    assert by_id[changed]["outcome"] in ("stale", "refused")
    assert by_id[changed]["code"] in ("STALE_ORDER", "INTERCEPTED")
    assert by_id[unknown]["outcome"] == "not_found"
    assert body["counts"] == dict(Counter(r["outcome"] for r in body["results"]))
    assert body["counts"]["applied"] == 2
    assert body["actor"] == "user:ops.zhang"

    for order_id in (fresh, other):
        oms.wait(oms.order(order_id)["execution_arn"])
        assert oms.order(order_id)["status"] == "SHIPPED"
        (event,) = [
            e for e in repository.load_aggregate(order_id).events if e.type == "review.manual_approve"
        ]
        assert event.actor == "user:ops.zhang"
        assert event.detail["via"] == f"bulk:{body['request_id']}"
    assert oms.order(decided)["status"] == "REJECTED"  # the colleague's decision stands

    again = oms.as_role("ops", "ops.zhang").call(
        "POST", "/holds/decisions", {"decision": "approve", "comment": "", "orders": [{"order_id": fresh}]}
    )
    assert again.json()["results"][0]["outcome"] in ("repeated", "stale")


def test_bulk_decisions_are_bounded_and_checked_before_anything_is_written(oms, stack):
    held = _held(oms, stack)
    too_many = [{"order_id": f"ord-{i:024x}"} for i in range(501)]
    assert oms.call("POST", "/holds/decisions", {"decision": "approve", "orders": too_many}).status == 422
    twice = [{"order_id": held}, {"order_id": held}]
    assert oms.call("POST", "/holds/decisions", {"decision": "approve", "orders": twice}).status == 422
    no_reason = oms.call("POST", "/holds/decisions", {"decision": "reject", "orders": [{"order_id": held}]})
    assert no_reason.status == 422
    assert (
        oms.as_role("viewer", "v.li")
        .call("POST", "/holds/decisions", {"decision": "approve", "orders": [{"order_id": held}]})
        .status
        == 403
    )
    assert oms.order(held)["status"] == "ON_HOLD"


def test_bulk_interception_reports_each_order(oms, stack):
    first, second = _held(oms, stack), _held(oms, stack)
    sku = new_sku()
    oms.set_stock(sku, 2)
    shipped, _ = oms.run(order_body([(sku, 1)]))
    unknown = "ord-" + "f" * 24

    answer = oms.as_role("ops", "ops.wu").call(
        "POST",
        "/orders/interceptions",
        {
            "reason": "buyer cancelled",
            "action": "cancel",
            "order_ids": [first, shipped["order_id"], second, unknown],
        },
    )
    assert answer.status == 200, answer.body
    results = answer.json()["results"]
    assert [(r["order_id"], r["outcome"]) for r in results] == [
        (first, "requested"),
        (shipped["order_id"], "refused"),
        (second, "requested"),
        (unknown, "not_found"),
    ]
    assert results[1]["code"] == "AFTER_SALES"
    assert results[1]["status"] == "SHIPPED"
    for order_id in (first, second):
        oms.wait(oms.order(order_id)["execution_arn"])
        order = oms.order(order_id)
        assert order["status"] == "CANCELLED"
        assert order["interception"]["actor"] == "user:ops.wu"
    assert oms.order(shipped["order_id"])["status"] == "SHIPPED"
    assert (
        oms.as_role("viewer", "v.li")
        .call("POST", "/orders/interceptions", {"reason": "x", "action": "cancel", "order_ids": [first]})
        .status
        == 403
    )
