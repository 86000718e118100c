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

from functions.compensate.service import compensate_order
from functions.core import repository
from functions.core.stage import StepError
from tests.factories import new_sku, order_body
from tests.review_helpers import intercept, post_and_hold, review, wait_for

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


def test_a_cancelled_orders_gift_goes_back_to_the_budget_once_and_the_next_order_gets_it(oms, stack):
    gift, trigger = gift_product(oms, 10), new_sku("TRIG")
    oms.set_stock(trigger, 10)
    rule = {"id": rule_id(), "gift_sku": gift, "quantity": 2, "budget": 2, "skus": [trigger]}
    with gift_rules(oms, rule):
        first_body = order_body([(trigger, 2, "3000.00")])  # HIGH_VALUE: held, holding the gift
        first = post_and_hold(oms, stack, first_body)
        spent, _ = oms.run(order_body([(trigger, 1, "30.00")]))
        assert [line["sku"] for line in spent["lines"]] == [trigger]  # the budget is spent
        assert received_detail(oms, spent["order_id"])["gifts_skipped"][0]["reason"] == "budget spent"

        assert intercept(oms, first["order_id"], "cancel").status == 202
        wait_for(stack, lambda: oms.order(first["order_id"])["status"] == "CANCELLED", what="cancelled")
        assert repository.gift_units_given(rule["id"]) == 0
        claim = repository.gift_claim(rule["id"], first["order_id"])
        assert claim is not None
        assert claim["released_at"]

        # Cancellation and compensation running again, and the platform resending the cancelled order,
        # give nothing back twice and take nothing again.
        again = compensate_order(first["order_id"], None, StepError(Error="States.Timeout", Cause="again"))
        assert again.status.value == "CANCELLED"
        assert intercept(oms, first["order_id"], "cancel").status == 409
        assert oms.post(first_body).status == 200
        assert repository.gift_units_given(rule["id"]) == 0

        following, _ = oms.run(order_body([(trigger, 1, "30.00")]))
    assert following["status"] == "SHIPPED"
    (line,) = [line for line in following["lines"] if line["sku"] == gift]
    assert (line["quantity"], line["gift_rule"]) == (2, rule["id"])
    assert repository.gift_units_given(rule["id"]) == 2
    assert oms.stock(gift) == {"on_hand": 8, "reserved": 0, "available": 8}


def test_gifts_of_rejected_orders_racing_new_orders_never_exceed_the_budget(oms, stack):
    gift, trigger = gift_product(oms, 20), new_sku("TRIG")
    oms.set_stock(trigger, 20)
    rule = {"id": rule_id(), "gift_sku": gift, "quantity": 1, "budget": 2, "skus": [trigger]}
    with gift_rules(oms, rule):
        held = [post_and_hold(oms, stack, order_body([(trigger, 1, "6000.00")])) for _ in range(2)]
        assert repository.gift_units_given(rule["id"]) == 2
        rejections = [lambda o=o: review(oms, o["order_id"], "reject", "fraud") for o in held]
        posts = [lambda: oms.post(order_body([(trigger, 1, "30.00")])) for _ in range(6)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = [f.result() for f in [pool.submit(call) for call in rejections + posts]]
        assert [a.status for a in answers] == [200, 200] + [201] * 6
        for answer in answers[2:]:
            assert oms.wait(answer.json()["execution_arn"])["status"] == "SUCCEEDED"
        for order in held:
            wait_for(stack, lambda o=order: oms.order(o["order_id"])["status"] == "REJECTED", what="rejected")

    orders = [oms.order(o["order_id"]) for o in held] + [oms.order(a.json()["order_id"]) for a in answers[2:]]
    live_units = sum(
        line["quantity"]
        for order in orders
        if order["status"] == "SHIPPED"
        for line in order["lines"]
        if line["sku"] == gift
    )
    assert live_units <= 2
    assert repository.gift_units_given(rule["id"]) == live_units
    for order in orders:
        claim = repository.gift_claim(rule["id"], order["order_id"])
        gets_it = any(line["sku"] == gift for line in order["lines"])
        if order["status"] == "REJECTED":
            assert claim is not None
            assert claim["released_at"]
        elif gets_it:
            assert claim is not None
            assert "released_at" not in claim
    assert oms.stock(gift)["on_hand"] == 20 - live_units
