"""Review rules (审单) as pure functions: every rule passes, holds or rejects on its own, and together."""

from __future__ import annotations

from decimal import Decimal

import pytest

from functions.core.models import RuleHit
from functions.review.logic import (
    RULES,
    ReviewPolicy,
    address_complete,
    high_value,
    review,
    totals_add_up,
)
from tests.factories import address, new_sku, order_in

POLICY = ReviewPolicy()


def codes(outcome) -> list[str]:
    return [hit.code for hit in outcome.reasons]


def test_clean_order_is_approved_with_no_reasons():
    outcome = review(
        order_in([(new_sku(), 2, "10.00")], shipping="5.00", tax="1.30", discount="2.00"), POLICY
    )
    assert outcome.decision == "approve"
    assert outcome.reasons == []


# ---------------------------------------------------------------- totals


def test_subtotal_not_matching_lines_is_rejected():
    order = order_in([(new_sku(), 2, "10.00")], subtotal="25.00", total="25.00")
    outcome = review(order, POLICY)
    assert outcome.decision == "reject"
    assert codes(outcome) == ["SUBTOTAL_MISMATCH"]
    assert "20.00" in outcome.reasons[0].message
    assert "25.00" in outcome.reasons[0].message


def test_total_not_matching_components_is_rejected():
    order = order_in([(new_sku(), 2, "10.00")], shipping="5.00", tax="1.00", discount="3.00", total="30.00")
    outcome = review(order, POLICY)
    assert outcome.decision == "reject"
    assert codes(outcome) == ["TOTAL_MISMATCH"]
    assert "23.00" in outcome.reasons[0].message  # 20 + 5 + 1 - 3


def test_total_includes_shipping_and_tax_minus_discount():
    order = order_in([(new_sku(), 3, "9.99")], shipping="12.00", tax="2.50", discount="4.97", total="39.50")
    assert totals_add_up(order, POLICY) is None


@pytest.mark.parametrize(
    ("subtotal", "expected"),
    [("20.01", None), ("19.99", None), ("20.02", "SUBTOTAL_MISMATCH"), ("19.98", "SUBTOTAL_MISMATCH")],
)
def test_amount_tolerance_is_one_cent(subtotal, expected):
    order = order_in([(new_sku(), 2, "10.00")], subtotal=subtotal, total=subtotal)
    hit = totals_add_up(order, POLICY)
    assert (hit[1].code if hit else None) == expected


def test_wider_tolerance_from_policy_is_respected():
    order = order_in([(new_sku(), 2, "10.00")], subtotal="20.50", total="20.50")
    assert totals_add_up(order, ReviewPolicy(amount_tolerance=Decimal("1"))) is None
    assert totals_add_up(order, POLICY) is not None


# ---------------------------------------------------------------- address


def test_missing_postal_code_where_required_holds():
    order = order_in(shipping_address=address(postal_code=None))
    outcome = review(order, POLICY)
    assert outcome.decision == "hold"
    assert codes(outcome) == ["ADDRESS_INCOMPLETE"]
    assert "CN" in outcome.reasons[0].message


def test_blank_postal_code_counts_as_missing():
    order = order_in(shipping_address=address(postal_code="   "))
    assert review(order, POLICY).decision == "hold"


def test_missing_postal_code_where_not_required_passes():
    order = order_in(shipping_address=address(country="HK", postal_code=None, region=None))
    assert address_complete(order, POLICY) is None
    assert review(order, POLICY).decision == "approve"


@pytest.mark.parametrize("country", ["CN", "US", "CA", "AU"])
def test_missing_region_holds_where_provinces_matter(country):
    order = order_in(shipping_address=address(country=country, region=None))
    severity, hit = address_complete(order, POLICY)
    assert severity == "hold"
    assert hit.code == "ADDRESS_INCOMPLETE"
    assert "province" in hit.message


def test_missing_region_passes_where_not_needed():
    order = order_in(shipping_address=address(country="GB", region=None, postal_code="SW1A 1AA"))
    assert address_complete(order, POLICY) is None


# ---------------------------------------------------------------- risk


def test_high_value_holds():
    order = order_in([(new_sku(), 1, "5000.01")])
    outcome = review(order, POLICY)
    assert outcome.decision == "hold"
    assert codes(outcome) == ["HIGH_VALUE"]


def test_value_at_threshold_passes():
    assert high_value(order_in([(new_sku(), 1, "5000.00")]), POLICY) is None


def test_high_quantity_holds():
    order = order_in([(new_sku(), 150, "0.10"), (new_sku(), 51, "0.10")])
    outcome = review(order, POLICY)
    assert outcome.decision == "hold"
    assert codes(outcome) == ["HIGH_QUANTITY"]
    assert "201" in outcome.reasons[0].message


def test_quantity_at_threshold_passes():
    assert high_value(order_in([(new_sku(), 200, "0.10")]), POLICY) is None


def test_thresholds_come_from_policy():
    order = order_in([(new_sku(), 3, "40.00")])
    policy = ReviewPolicy(hold_above_total=Decimal("100"), hold_above_quantity=2)
    assert codes(review(order, policy)) == ["HIGH_VALUE"]
    assert review(order, POLICY).decision == "approve"


# ---------------------------------------------------------------- combination


def test_every_rule_that_fires_is_reported_and_reject_beats_hold():
    order = order_in(
        [(new_sku(), 1, "6000.00")],
        total="6001.00",  # mismatch and above the hold threshold
        shipping_address=address(postal_code=None),
    )
    outcome = review(order, POLICY)
    assert outcome.decision == "reject"
    assert codes(outcome) == ["TOTAL_MISMATCH", "ADDRESS_INCOMPLETE", "HIGH_VALUE"]


def test_several_holds_stay_a_hold_and_all_are_reported():
    order = order_in([(new_sku(), 300, "1.00")], shipping_address=address(region=None))
    outcome = review(order, POLICY)
    assert outcome.decision == "hold"
    assert codes(outcome) == ["ADDRESS_INCOMPLETE", "HIGH_QUANTITY"]


def test_rules_are_pluggable():
    def always_reject(order, policy):
        return "reject", RuleHit(code="BLOCKED_BUYER", message="nope")

    order = order_in()
    assert review(order, POLICY, rules=()).decision == "approve"
    outcome = review(order, POLICY, rules=(*RULES, always_reject))
    assert outcome.decision == "reject"
    assert codes(outcome) == ["BLOCKED_BUYER"]
