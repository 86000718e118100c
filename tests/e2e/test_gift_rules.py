"""Gift rules of the strategy center (赠品策略): a rule adds a free gift line until its budget of units is
spent, exactly, however many orders race for it; a gift out of stock is skipped and recorded while the
order goes on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from functions.core import repository
from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, review

pytestmark = pytest.mark.e2e


@contextmanager
def gift_rules(oms: Any, *rules: dict[str, Any]) -> Iterator[None]:
    before = oms.call("GET", "/rules").json()
    stored = oms.call("PUT", "/rules", {**before, "gifts": {"rules": list(rules)}, "comment": "gift test"})
    assert stored.status == 200, stored.body
    try:
        yield
    finally:
        latest = oms.call("GET", "/rules").json()
        restored = oms.call("PUT", "/rules", {**before, "version": latest["version"]})
        assert restored.status == 200, restored.body


def gift_product(oms: Any, stock: int) -> str:
    sku = new_sku("GIFT")
    oms.set_stock(sku, stock)
    marked = oms.as_role("merchandiser").call(
        "PUT", f"/products/{sku}", {"name": "Tote bag", "gift_eligible": True, "version": 1}
    )
    assert marked.status == 200, marked.body
    return sku


def rule_id() -> str:
    return f"gift-{uuid.uuid4().hex[:10]}"


def received_detail(oms: Any, order_id: str) -> dict[str, Any]:
    timeline = oms.history(order_id).json()["timeline"]
    (received,) = [entry for entry in timeline if entry.get("type") == "order.received"]
    return received["detail"]  # type: ignore[no-any-return]


def test_a_gift_rule_gives_until_its_budget_is_spent_exactly_under_concurrency(oms):
    gift, trigger, other = gift_product(oms, 50), new_sku("TRIG"), new_sku("OTHER")
    oms.set_stock(trigger, 50)
    oms.set_stock(other, 5)
    rule = {"id": rule_id(), "gift_sku": gift, "quantity": 2, "budget": 9, "skus": [trigger]}
    with gift_rules(oms, rule):
        bodies = [order_body([(trigger, 1, "30.00")]) for _ in range(8)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(oms.post, bodies))
        unmatched = oms.post(order_body([(other, 1, "30.00")]))
    assert [a.status for a in answers] == [201] * 8
    for answer in [*answers, unmatched]:
        assert oms.wait(answer.json()["execution_arn"])["status"] == "SUCCEEDED"
    orders = [oms.order(a.json()["order_id"]) for a in answers]

    with_gift = [o for o in orders if any(line["sku"] == gift for line in o["lines"])]
    assert len(with_gift) == 4  # 2 units each from a budget of 9: the fifth would need 10
    assert repository.gift_units_given(rule["id"]) == 8
    for order in orders:
        assert order["status"] == "SHIPPED", order["status"]
        detail = received_detail(oms, order["order_id"])
        if order in with_gift:
            (line,) = [line for line in order["lines"] if line["sku"] == gift]
            assert (line["quantity"], line["unit_price"], line["gift_rule"]) == (2, "0.00", rule["id"])
            assert detail["gifts"] == [{"rule": rule["id"], "sku": gift, "quantity": 2}]
            assert (
                sum(s["quantity"] for sh in order["shipments"] for s in sh["lines"] if s["sku"] == gift) == 2
            )
        else:
            assert detail["gifts_skipped"] == [{"rule": rule["id"], "sku": gift, "reason": "budget spent"}]
    assert [line["sku"] for line in oms.order(unmatched.json()["order_id"])["lines"]] == [other]
    assert oms.stock(gift) == {"on_hand": 42, "reserved": 0, "available": 42}


def test_a_gift_out_of_stock_is_skipped_and_recorded_and_the_order_ships(oms):
    gift, trigger = gift_product(oms, 0), new_sku("TRIG")
    oms.set_stock(trigger, 5)
    rule = {"id": rule_id(), "gift_sku": gift, "budget": 10, "min_total": "100.00", "platforms": ["tmall"]}
    with gift_rules(oms, rule):
        order, execution = oms.run(order_body([(trigger, 1, "120.00")], platform="tmall"))
        small, _ = oms.run(order_body([(trigger, 1, "20.00")], platform="tmall"))
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert [line["sku"] for line in order["lines"]] == [trigger]
    skipped = received_detail(oms, order["order_id"])["gifts_skipped"]
    assert skipped == [{"rule": rule["id"], "sku": gift, "reason": "out of stock"}]
    assert "gifts_skipped" not in received_detail(oms, small["order_id"])  # below min_total: no match
    assert repository.gift_units_given(rule["id"]) == 0


def test_a_gift_rule_must_give_a_gift_eligible_product(oms):
    plain = new_sku("PLAIN")
    oms.register_product(plain)
    before = oms.call("GET", "/rules").json()
    refused = oms.call(
        "PUT", "/rules", {**before, "gifts": {"rules": [{"id": rule_id(), "gift_sku": plain, "budget": 1}]}}
    )
    assert refused.status == 422, refused.body
    assert refused.json()["error"]["code"] == "INVALID_GIFT_RULE"
    assert refused.json()["error"]["fields"][0]["field"] == "body.gifts.rules.0.gift_sku"
    assert oms.call("GET", "/rules").json()["version"] == before["version"]


def test_a_gift_gone_by_allocation_is_left_out_and_its_units_go_back_to_the_budget(oms, stack):
    """The gift was in stock at capture; the order waited for a person while the last one sold, so
    allocation leaves the gift out (recorded), ships the rest and gives the unit back to the rule."""
    gift, trigger = gift_product(oms, 1), new_sku("TRIG")
    oms.set_stock(trigger, 5)
    rule = {"id": rule_id(), "gift_sku": gift, "budget": 5, "skus": [trigger]}
    with gift_rules(oms, rule):
        answer = post_and_hold(oms, stack, order_body([(trigger, 2, "3000.00")]))  # HIGH_VALUE: held
        order_id = answer["order_id"]
        assert [line["sku"] for line in oms.order(order_id)["lines"]] == [trigger, gift]
        assert repository.gift_units_given(rule["id"]) == 1
        oms.set_stock(gift, 0)  # the last tote bag went elsewhere meanwhile
        assert review(oms, order_id, "approve").status == 200
        assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"

    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert [line["sku"] for line in order["lines"]] == [trigger]
    reserved = [e for e in oms.history(order_id).json()["timeline"] if e.get("type") == "stock.reserved"]
    assert reserved[0]["detail"]["gifts_skipped"] == [
        {"rule": rule["id"], "sku": gift, "reason": "out of stock"}
    ]
    assert repository.gift_units_given(rule["id"]) == 0
    assert oms.stock(gift) == {"on_hand": 0, "reserved": 0, "available": 0}
