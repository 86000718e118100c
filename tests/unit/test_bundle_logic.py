"""Bundles (组合装) at capture: exploding into component lines, money spread exact to the cent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core.gift_rules import GiftRule
from functions.core.models.order_in import OrderLine
from functions.core.products import Component, Product, ProductKind, VirtualKind
from functions.core.rules import ReviewRules
from functions.ingest.logic import LineProblem, bundle_view, split_cents, stored_lines
from functions.products.logic import parse_csv
from functions.review.logic import ReviewFacts, unknown_sku
from tests.factories import order_in


def product(sku: str, *components: tuple[str, int, str | None], virtual: bool = False) -> Product:
    return Product(
        sku=sku,
        version=1,
        kind=ProductKind.VIRTUAL if virtual else ProductKind.PHYSICAL,
        virtual_kind=VirtualKind.SERVICE if virtual else None,
        components=tuple(
            Component(sku=c, quantity=q, value=Decimal(v) if v else None) for c, q, v in components
        ),
    )


def line(sku: str, quantity: int, price: str, name: str | None = None) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(price), name=name)


@given(
    cents=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=50),
)
def test_split_cents_adds_up_exactly_and_each_share_is_within_a_cent_of_its_quota(cents, weights):
    total = Decimal(cents) / 100
    shares = split_cents(total, weights)
    assert sum(shares, Decimal(0)) == total
    whole = sum(weights) or len(weights)
    for share, weight in zip(shares, weights, strict=True):
        quota = Fraction(cents) * Fraction(weight if sum(weights) else 1) / whole
        assert abs(Fraction(int(share * 100)) - quota) < 1
        assert share == share.quantize(Decimal("0.01"))


def test_split_cents_gives_left_over_cents_to_the_largest_remainders():
    assert split_cents(Decimal("10.00"), [1, 1, 1]) == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert split_cents(Decimal("0.05"), [1, 2]) == [Decimal("0.02"), Decimal("0.03")]
    assert split_cents(Decimal("1.00"), [0, 0]) == [Decimal("0.50"), Decimal("0.50")]


def test_a_bundle_line_explodes_into_components_with_its_money_spread_by_value():
    products = {
        "BOX": product("BOX", ("TEA", 1, "60.00"), ("CUP", 2, "20.00")),
        "TEA": product("TEA"),
        "CUP": product("CUP"),
    }
    lines = stored_lines([line("BOX", 2, "50.00")], products)
    assert [(x.sku, x.quantity, x.amount) for x in lines] == [
        ("TEA", 2, Decimal("60.00")),
        ("CUP", 4, Decimal("40.00")),
    ]
    tea = lines[0]
    assert tea.origins is not None
    assert [(o.line, o.sku, o.units_per_bundle, o.quantity, o.amount) for o in tea.origins] == [
        (0, "BOX", 1, 2, Decimal("60.00"))
    ]
    assert bundle_view(lines) == [
        {
            "line": 0,
            "sku": "BOX",
            "quantity": 2,
            "amount": "100.00",
            "components": [
                {"sku": "TEA", "units_per_bundle": 1, "quantity": 2, "amount": "60.00"},
                {"sku": "CUP", "units_per_bundle": 2, "quantity": 4, "amount": "40.00"},
            ],
        }
    ]


def test_a_component_reached_twice_is_one_line_with_the_sum_and_both_origins():
    products = {
        "BOX-A": product("BOX-A", ("TEA", 1, None), ("CUP", 1, None)),
        "BOX-B": product("BOX-B", ("TEA", 2, None)),
        "TEA": product("TEA"),
        "CUP": product("CUP"),
        "CARD": product("CARD", virtual=True),
    }
    sent = [
        line("BOX-A", 1, "10.00"),
        line("TEA", 1, "4.00", "Green tea"),
        line("BOX-B", 3, "7.01"),
        line("CARD", 1, "5"),
    ]
    lines = stored_lines(sent, products)
    by_sku = {x.sku: x for x in lines}
    assert list(by_sku) == ["TEA", "CUP", "CARD"]
    tea = by_sku["TEA"]
    assert tea.quantity == 1 + 1 + 6
    assert tea.amount == Decimal("5.00") + Decimal("4.00") + Decimal("21.03")
    assert tea.name == "Green tea"
    assert [(o.line, o.sku, o.units_per_bundle) for o in tea.origins or ()] == [
        (0, "BOX-A", 1),
        (1, "TEA", None),
        (2, "BOX-B", 2),
    ]
    assert sum((x.amount for x in lines), Decimal(0)) == sum((x.amount for x in sent), Decimal(0))
    assert by_sku["CARD"] == sent[3].model_copy(update={"virtual": True})  # untouched but for the kind
    assert by_sku["CARD"].origins is None
    assert by_sku["CARD"].line_total is None


def test_a_bundle_exploding_past_a_lines_bound_names_the_platform_line():
    products = {"BOX": product("BOX", ("TEA", 200, None)), "TEA": product("TEA")}
    with pytest.raises(LineProblem) as raised:
        stored_lines([line("TEA", 1, "1"), line("BOX", 100, "1")], products)
    assert raised.value.index == 1
    assert "20001 units of TEA" in raised.value.message


def test_a_bundle_gives_every_component_a_value_or_none():
    with pytest.raises(ValueError, match="every component a value"):
        product("BOX", ("TEA", 1, "1.00"), ("CUP", 1, None))


# ---------------------------------------------------------------- gift rules (赠品策略)


def test_a_gift_rule_matches_on_amount_sku_platform_and_its_date_window():
    rule = GiftRule(
        id="spring",
        gift_sku="TOTE",
        budget=10,
        min_total=Decimal("100"),
        skus=["TEA"],
        platforms=["tmall"],
        starts_at=datetime(2026, 3, 1, tzinfo=UTC),
        ends_at=datetime(2026, 4, 1, tzinfo=UTC),
    )
    inside = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert rule.matches("tmall", Decimal("100"), {"TEA", "CUP"}, inside)
    assert not rule.matches("tmall", Decimal("99.99"), {"TEA"}, inside)
    assert not rule.matches("tmall", Decimal("100"), {"CUP"}, inside)
    assert not rule.matches("jd", Decimal("100"), {"TEA"}, inside)
    assert not rule.matches("tmall", Decimal("100"), {"TEA"}, datetime(2026, 4, 1, tzinfo=UTC))
    assert not rule.matches("tmall", Decimal("100"), {"TEA"}, datetime(2026, 2, 28, tzinfo=UTC))
    assert not rule.model_copy(update={"active": False}).matches("tmall", Decimal("100"), {"TEA"}, inside)
    with pytest.raises(ValueError, match="ends_at must be after starts_at"):
        GiftRule(id="x", gift_sku="TOTE", budget=1, starts_at=inside, ends_at=inside)


def test_a_csv_component_may_carry_its_value_in_the_bundle():
    (row,) = parse_csv("sku,components\nBOX,TEA:1:60.00;CUP:2:20\n")
    assert row.spec is not None
    assert [(c.sku, c.quantity, c.value) for c in row.spec.components] == [
        ("TEA", 1, Decimal("60.00")),
        ("CUP", 2, Decimal("20.00")),
    ]


def test_review_holds_an_order_naming_skus_the_master_lacks():
    assert unknown_sku(order_in(), ReviewRules(), ReviewFacts()) is None
    found = unknown_sku(order_in(), ReviewRules(), ReviewFacts(unknown_skus=("NEW-1",)))
    assert found is not None
    severity, hit = found
    assert (severity, hit.code) == ("hold", "UNKNOWN_SKU")
    assert "NEW-1" in hit.message


def test_a_sku_the_master_lacks_is_stored_as_sent_when_the_order_is_held_for_it():
    products = {"BOX": product("BOX", ("TEA", 1, None)), "TEA": product("TEA")}
    lines = stored_lines([line("BOX", 1, "10.00"), line("NEW", 2, "3.00")], products)
    assert [(x.sku, x.quantity, x.virtual, x.origins is None) for x in lines] == [
        ("TEA", 1, False, False),
        ("NEW", 2, False, True),
    ]
