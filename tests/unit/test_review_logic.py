"""Review rules (审单) as pure functions: every rule passes, holds or rejects on its own, and together."""

from __future__ import annotations

from decimal import Decimal

import pytest

from functions.core.models.orders import RuleHit
from functions.review.logic import (
    RULES,
    ReasonCode,
    ReviewFacts,
    ReviewPolicy,
    address_complete,
    address_plausible,
    blacklisted,
    buyer_remark,
    buyer_velocity,
    decide,
    high_value,
    platform_risk,
    presale,
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
    def always_reject(order, policy, facts):
        return "reject", RuleHit(code="BLOCKED_BUYER", message="nope")

    order = order_in()
    assert review(order, POLICY, rules=()).decision == "approve"
    outcome = review(order, POLICY, rules=(*RULES, always_reject))
    assert outcome.decision == "reject"
    assert codes(outcome) == ["BLOCKED_BUYER"]


# ---------------------------------------------------------------- address plausibility


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"postal_code": "20000"}, "postal code"),  # CN codes have six digits
        ({"country": "US", "region": "CA", "postal_code": "9410"}, "postal code"),
        ({"line1": "test"}, "line1 is a placeholder"),
        ({"line1": "  N/A "}, "line1 is a placeholder"),
        ({"city": "待定"}, "city is a placeholder"),
        ({"line1": "12-34"}, "line1 has no letters"),
        ({"phone": "+86 1234"}, "phone number has 6 digits"),
    ],
)
def test_implausible_addresses_hold(overrides, expected):
    outcome = review(order_in(shipping_address=address(**overrides)), POLICY)
    assert outcome.decision == "hold"
    assert codes(outcome) == ["ADDRESS_IMPLAUSIBLE"]
    assert expected in outcome.reasons[0].message


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"country": "US", "region": "NY", "postal_code": "10001-1234"},
        {"country": "GB", "region": None, "postal_code": "sw1a 1aa"},
        {"country": "CA", "region": "ON", "postal_code": "K1A 0B1"},
        {"country": "HK", "region": None, "postal_code": None},  # no postal system: nothing to check
        {"country": "XX", "postal_code": "ANY-1"},  # unknown format: not judged
        {"line1": "南京路1号"},
    ],
)
def test_plausible_addresses_pass(overrides):
    assert address_plausible(order_in(shipping_address=address(**overrides)), POLICY) is None


def test_missing_postal_code_is_incomplete_not_implausible():
    outcome = review(order_in(shipping_address=address(postal_code=None)), POLICY)
    assert codes(outcome) == ["ADDRESS_INCOMPLETE"]


# ---------------------------------------------------------------- blacklists


def _blacklist(**entries) -> ReviewPolicy:
    return ReviewPolicy(**entries)


@pytest.mark.parametrize("entry", ["buyer-1", "BUYER-1", "tmall:buyer-1", " Tmall:Buyer-1 "])
def test_blacklisted_buyer_is_rejected(entry):
    outcome = review(order_in(), _blacklist(blacklisted_buyers=[entry]))
    assert outcome.decision == "reject"
    assert codes(outcome) == ["BLACKLISTED_BUYER"]


def test_buyer_blacklisted_on_another_platform_only_passes():
    assert blacklisted(order_in(), _blacklist(blacklisted_buyers=["jd:buyer-1"])) is None


def test_blacklisted_phone_matches_whatever_the_punctuation():
    policy = _blacklist(blacklisted_phones=["+86-138-0000-0000"])
    outcome = review(order_in(), policy)  # the factory's recipient phone is "+86 138 0000 0000"
    assert codes(outcome) == ["BLACKLISTED_PHONE"]
    assert "138" not in outcome.reasons[0].message  # no phone numbers in reasons


def test_blacklisted_address_fragment_matches_regardless_of_case_and_punctuation():
    policy = _blacklist(blacklisted_addresses=["1, NANJING rd."])
    assert codes(review(order_in(), policy)) == ["BLACKLISTED_ADDRESS"]
    assert blacklisted(order_in(), _blacklist(blacklisted_addresses=["2 Nanjing Rd"])) is None


def test_blacklist_can_hold_instead_of_reject():
    outcome = review(order_in(), _blacklist(blacklisted_buyers=["buyer-1"], blacklist_action="hold"))
    assert outcome.decision == "hold"
    assert codes(outcome) == ["BLACKLISTED_BUYER"]


# ---------------------------------------------------------------- risk: reject limit


def test_total_above_the_reject_limit_is_rejected():
    policy = ReviewPolicy(hold_above_total=Decimal("100"), reject_above_total=Decimal("1000"))
    outcome = review(order_in([(new_sku(), 1, "1000.01")]), policy)
    assert outcome.decision == "reject"
    assert codes(outcome) == ["AMOUNT_LIMIT"]
    assert codes(review(order_in([(new_sku(), 1, "1000.00")]), policy)) == ["HIGH_VALUE"]


def test_no_reject_limit_by_default():
    assert codes(review(order_in([(new_sku(), 1, "99999.00")]), POLICY)) == ["HIGH_VALUE"]


# ---------------------------------------------------------------- velocity


def test_velocity_rule_is_off_by_default():
    assert buyer_velocity(order_in(), POLICY, ReviewFacts(recent_orders_by_buyer=1000)) is None


@pytest.mark.parametrize(
    ("others", "expected"), [(0, None), (2, None), (3, "BUYER_VELOCITY"), (50, "BUYER_VELOCITY")]
)
def test_velocity_holds_beyond_the_limit_counting_this_order(others, expected):
    policy = ReviewPolicy(velocity_max_orders=3, velocity_window_minutes=10)
    hit = buyer_velocity(order_in(), policy, ReviewFacts(recent_orders_by_buyer=others))
    assert (hit[1].code if hit else None) == expected
    if hit:
        assert hit[0] == "hold"
        assert f"{others + 1} orders" in hit[1].message
        assert "10 min" in hit[1].message


def test_review_passes_facts_to_the_rules():
    policy = ReviewPolicy(velocity_max_orders=1)
    assert review(order_in(), policy).decision == "approve"
    assert codes(review(order_in(), policy, facts=ReviewFacts(recent_orders_by_buyer=1))) == [
        "BUYER_VELOCITY"
    ]


# ---------------------------------------------------------------- platform flags


def test_any_buyer_remark_holds_by_default():
    outcome = review(order_in(remark="please gift wrap"), POLICY)
    assert codes(outcome) == ["BUYER_REMARK"]


def test_blank_remark_passes():
    assert buyer_remark(order_in(remark="   "), POLICY) is None


def test_remark_keywords_narrow_the_rule():
    policy = ReviewPolicy(remark_keywords=["Address", "改地址"])
    assert buyer_remark(order_in(remark="please gift wrap"), policy) is None
    severity, hit = buyer_remark(order_in(remark="New ADDRESS: see chat"), policy)
    assert (severity, hit.code) == ("hold", "BUYER_REMARK")
    assert "address" in hit.message
    assert buyer_remark(order_in(remark="麻烦改地址"), policy) is not None


def test_remark_rule_can_be_switched_off():
    assert buyer_remark(order_in(remark="anything"), ReviewPolicy(hold_on_buyer_remark=False)) is None


def test_presale_order_holds_with_its_ship_date():
    flags = {"presale": True, "ships_after": "2026-12-12T00:00:00+08:00"}
    outcome = review(order_in(flags=flags), POLICY)
    assert codes(outcome) == ["PRESALE"]
    assert "2026-12-12" in outcome.reasons[0].message


def test_presale_can_pass_by_rule_and_ordinary_orders_are_not_presale():
    assert presale(order_in(flags={"presale": True}), ReviewPolicy(presale_action="pass")) is None
    assert presale(order_in(flags={"presale": False}), POLICY) is None
    assert presale(order_in(), POLICY) is None


def test_platform_risk_flag_holds_unless_switched_off():
    flagged = order_in(flags={"risk_flagged": True})
    assert codes(review(flagged, POLICY)) == ["PLATFORM_RISK"]
    assert platform_risk(flagged, ReviewPolicy(hold_on_platform_risk=False)) is None


# ---------------------------------------------------------------- the engine


def test_every_code_a_rule_gives_is_a_declared_reason_code():
    policy = ReviewPolicy(
        blacklisted_buyers=["buyer-1"],
        velocity_max_orders=1,
        hold_above_total=Decimal("1"),
    )
    order = order_in(
        [(new_sku(), 1, "50.00")],
        total="60.00",
        remark="hi",
        flags={"presale": True, "risk_flagged": True},
        shipping_address=address(line1="test"),
    )
    outcome = review(order, policy, facts=ReviewFacts(recent_orders_by_buyer=5))
    assert outcome.decision == "reject"
    assert codes(outcome) == [
        "TOTAL_MISMATCH",
        "ADDRESS_IMPLAUSIBLE",
        "BLACKLISTED_BUYER",
        "HIGH_VALUE",
        "BUYER_VELOCITY",
        "BUYER_REMARK",
        "PRESALE",
        "PLATFORM_RISK",
    ]
    assert set(codes(outcome)) <= {code.value for code in ReasonCode}


def test_decide_orders_severities():
    hold = ("hold", RuleHit(code="A", message=""))
    reject = ("reject", RuleHit(code="B", message=""))
    assert decide([]) == "approve"
    assert decide([hold]) == "hold"
    assert decide([hold, reject, hold]) == "reject"
