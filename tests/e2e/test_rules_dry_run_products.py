"""The strategy center's dry run looks products up as capture does: SKUs the product master lacks are
held for or refused by the rule set's `unknown_sku_action`, and gift rules give only eligible gifts."""

from __future__ import annotations

import pytest

from tests.e2e.test_gift_rules import gift_product, rule_id
from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, review_rules, rules, with_review

pytestmark = pytest.mark.e2e


def test_a_dry_run_refusing_unknown_skus_shows_the_held_order_refused_at_capture(oms, stack):
    known, unknown = new_sku(), new_sku("NEW")
    oms.set_stock(known, 5)
    stack.clock.advance(1)  # the most recent orders
    with review_rules(oms, unknown_sku_action="hold"):
        answer = post_and_hold(oms.without_product_seeding(), stack, order_body([(known, 1), (unknown, 1)]))
        current = rules(oms)
        response = oms.call(
            "POST", "/rules/dry-run?limit=50", with_review(current, unknown_sku_action="refuse")
        )
    assert response.status == 200, response.body
    changed = {c["order_id"]: c for c in response.json()["changed"]}
    entry = changed[answer["order_id"]]
    assert entry["current"]["decision"] == "hold"
    assert [r["code"] for r in entry["current"]["reasons"]] == ["UNKNOWN_SKU"]
    assert entry["proposed"]["decision"] == "reject"
    assert entry["proposed"]["reasons"][0]["message"] == f"refused at capture: not active products: {unknown}"


def test_a_dry_run_lists_the_gifts_a_proposed_gift_rule_would_give(oms, stack):
    gift, trigger = gift_product(oms, 5), new_sku("TRIG")
    plain = new_sku("PLAIN")
    oms.register_product(plain)
    oms.set_stock(trigger, 5)
    stack.clock.advance(1)
    order, _ = oms.run(order_body([(trigger, 1, "30.00")]))
    other, _ = oms.run(order_body([(new_sku("OTHER"), 1, "30.00")]))
    current = rules(oms)
    rule = {"id": rule_id(), "gift_sku": gift, "budget": 10, "skus": [trigger]}

    response = oms.call("POST", "/rules/dry-run?limit=50", {**current, "gifts": {"rules": [rule]}})
    assert response.status == 200, response.body
    gifts = {g["order_id"]: g for g in response.json()["gifts_changed"]}
    assert gifts[order["order_id"]] == {
        "order_id": order["order_id"],
        "current": [],
        "proposed": [f"{rule['id']}:{gift}"],
    }
    assert other["order_id"] not in gifts
    assert rules(oms) == current  # nothing stored

    ineligible = {**rule, "gift_sku": plain}
    refused = oms.call("POST", "/rules/dry-run", {**current, "gifts": {"rules": [ineligible]}})
    assert refused.status == 422, refused.body
    assert refused.json()["error"]["code"] == "INVALID_GIFT_RULE"
