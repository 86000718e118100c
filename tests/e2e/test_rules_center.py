"""Strategy center (订单策略中心) through the API and the real state machine: versions, validation, run-time
changes reaching the next order, dry runs, and the review rules that need stored data (velocity)."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, put_rules, review, review_rules, rules, with_review

pytestmark = pytest.mark.e2e


def _buyer() -> dict[str, str]:
    return {"id": f"buyer-{uuid.uuid4().hex[:10]}"}


def test_get_rules_serves_a_complete_valid_document(oms):
    document = rules(oms)
    assert set(document) >= {"version", "review", "allocation", "payment", "aftersales", "carriers"}
    assert {"saved_at", "saved_by", "comment"} <= set(document)
    assert document["review"]["hold_above_total"]  # Decimals are served as exact strings
    assert isinstance(document["version"], int)


def test_a_rules_change_takes_effect_on_the_next_order_without_restart(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    before, _ = oms.run(order_body([(sku, 1, "150.00")]))
    assert before["status"] == "SHIPPED"
    old_version = before["rules_version"]

    with review_rules(oms, hold_above_total="100") as changed:
        assert changed["version"] == rules(oms)["version"] > old_version
        assert changed["saved_by"] == "user:admin.wang"
        held = post_and_hold(oms, stack, order_body([(sku, 1, "150.00")]))
        order = oms.order(held["order_id"])
        assert order["status"] == "ON_HOLD"
        assert order["rules_version"] == changed["version"]
        assert order["hold"]["reasons"][0]["message"] == "total 150.00 above 100"
        assert review(oms, held["order_id"], "reject", "cleanup").status == 200
        oms.wait(held["execution_arn"])

    after, _ = oms.run(order_body([(sku, 1, "150.00")]))
    assert after["status"] == "SHIPPED"
    assert after["rules_version"] == rules(oms)["version"] > changed["version"]
    assert oms.order(before["order_id"])["rules_version"] == old_version  # history is not rewritten


@pytest.mark.parametrize(
    ("review_settings", "field"),
    [
        ({"hold_above_total": "-5"}, ["body", "review", "hold_above_total"]),
        ({"hold_above_quantity": "many"}, ["body", "review", "hold_above_quantity"]),
        ({"velocity_window_minutes": 0}, ["body", "review", "velocity_window_minutes"]),
        ({"blacklist_action": "ignore"}, ["body", "review", "blacklist_action"]),
        ({"blacklisted_phones": ["not a phone"]}, ["body", "review", "blacklisted_phones", 0]),
        ({"no_such_setting": 1}, ["body", "review", "no_such_setting"]),
    ],
)
def test_bad_rule_documents_are_refused_naming_the_field_and_the_version_in_force_stays(
    oms, review_settings, field
):
    before = rules(oms)
    response = put_rules(oms, with_review(before, **review_settings))
    assert response.status == 422, response.body
    assert field in [error["loc"] for error in response.json()["error"]["fields"]]
    assert rules(oms) == before
    assert oms.run(order_body([(new_sku(), 1)]))[0]["rules_version"] == before["version"]


def test_inconsistent_thresholds_and_unknown_sections_are_refused(oms):
    before = rules(oms)
    crossed = put_rules(oms, with_review(before, hold_above_total="500", reject_above_total="100"))
    assert crossed.status == 422
    assert crossed.json()["error"]["fields"][0]["loc"] == ["body", "review"]
    unknown = put_rules(oms, {**before, "pricing": {}})
    assert unknown.status == 422
    assert unknown.json()["error"]["fields"][0]["loc"] == ["body", "pricing"]
    no_version = put_rules(oms, {k: v for k, v in before.items() if k != "version"})
    assert no_version.status == 422
    assert no_version.json()["error"]["fields"][0]["loc"] == ["body", "version"]
    assert rules(oms) == before


def test_a_change_based_on_an_old_version_is_refused(oms):
    before = rules(oms)
    with review_rules(oms, hold_above_quantity=150):
        stale = put_rules(oms, with_review(before, hold_above_quantity=120))  # edited the old version
        assert stale.status == 409
        assert stale.json()["error"]["code"] == "STALE_RULES"
        assert rules(oms)["review"]["hold_above_quantity"] == 150
    anonymous = oms.anonymous().call("PUT", "/rules", rules(oms))
    assert anonymous.status == 401
    not_admin = oms.as_role("ops").call("PUT", "/rules", rules(oms))
    assert not_admin.status == 403


def test_versions_are_kept_with_who_changed_what(oms):
    with review_rules(oms, hold_above_total="4000", blacklisted_buyers=["Tmall:Bad-Buyer"]) as changed:
        listing = oms.call("GET", "/rules/versions?limit=5")
        assert listing.status == 200
        newest = listing.json()["versions"][0]
        assert newest["version"] == changed["version"]
        assert newest["saved_by"] == "user:admin.wang"
        assert newest["changes"] == ["review.blacklisted_buyers", "review.hold_above_total"]
        stored = oms.call("GET", f"/rules/versions/{changed['version']}").json()
        assert stored["review"]["hold_above_total"] == "4000"
        assert stored["review"]["blacklisted_buyers"] == ["tmall:bad-buyer"]  # normalised on write
        previous = oms.call("GET", f"/rules/versions/{changed['version'] - 1}")
        assert previous.status == 200
        assert previous.json()["version"] == changed["version"] - 1
    assert oms.call("GET", "/rules/versions/999999").status == 404
    assert oms.call("GET", "/rules/versions/0").json()["version"] == 0


def test_dry_run_lists_recent_orders_the_proposal_would_decide_differently(oms, stack):
    stack.clock.advance(1)  # these orders are the most recent ones
    sku = new_sku()
    oms.set_stock(sku, 10)
    pricey, _ = oms.run(order_body([(sku, 1, "300.00")]))
    cheap, _ = oms.run(order_body([(sku, 1, "20.00")]))
    current = rules(oms)

    response = oms.call("POST", "/rules/dry-run?limit=50", with_review(current, hold_above_total="100"))
    assert response.status == 200, response.body
    report = response.json()
    assert report["current_version"] == current["version"]
    changed = {c["order_id"]: c for c in report["changed"]}
    assert pricey["order_id"] in changed
    assert cheap["order_id"] not in changed
    entry = changed[pricey["order_id"]]
    assert entry["current"]["decision"] == "approve"
    assert entry["proposed"]["decision"] == "hold"
    assert [r["code"] for r in entry["proposed"]["reasons"]] == ["HIGH_VALUE"]
    assert entry["recorded"] == "approve"
    assert report["transitions"]["approve->hold"] >= 1
    assert rules(oms) == current  # a dry run stores nothing

    bad = oms.call("POST", "/rules/dry-run", with_review(current, hold_above_total="-1"))
    assert bad.status == 422


def test_velocity_rule_holds_the_buyer_s_order_beyond_the_limit_in_the_window(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 20)
    buyer = _buyer()
    with review_rules(oms, velocity_max_orders=2, velocity_window_minutes=30):
        first, _ = oms.run(order_body([(sku, 1)], buyer=buyer))
        second, _ = oms.run(order_body([(sku, 1)], buyer=buyer))
        third = post_and_hold(oms, stack, order_body([(sku, 1)], buyer=buyer))
        other_buyer, _ = oms.run(order_body([(sku, 1)], buyer=_buyer()))
        held = oms.order(third["order_id"])
        assert [first["status"], second["status"], other_buyer["status"]] == ["SHIPPED"] * 3
        assert held["status"] == "ON_HOLD"
        assert held["hold"]["reasons"] == [
            {"code": "BUYER_VELOCITY", "message": "3 orders from this buyer within 30 min (limit 2)"}
        ]
        assert review(oms, third["order_id"], "reject", "scalper").status == 200
        oms.wait(third["execution_arn"])

        stack.clock.advance(31 * 60)  # the window has passed
        later, _ = oms.run(order_body([(sku, 1)], buyer=buyer))
        assert later["status"] == "SHIPPED"


def test_blacklisted_buyer_is_rejected_by_review(oms):
    buyer = _buyer()
    with review_rules(oms, blacklisted_buyers=[f"TMALL:{buyer['id'].upper()}"]):
        order, execution = oms.run(order_body([(new_sku(), 1)], buyer=buyer))
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "REJECTED"
    assert [r["code"] for r in order["review"]["reasons"]] == ["BLACKLISTED_BUYER"]
    assert oms.states_entered(order["execution_arn"])[-1] == "Rejected"
