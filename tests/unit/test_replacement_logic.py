"""Building a replacement order: pure, deterministic, linked to the order it serves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.core.models.orders import Order
from functions.core.replacement import ReplacementLine, build_replacement, replacement_id_for
from functions.review.logic import approve_replacement
from tests.factories import line, order_body, stored_order

AT = datetime(2026, 3, 1, tzinfo=UTC)


def original_order(lines: list[dict] | None = None) -> Order:
    return stored_order(order_body(lines or [line("SKU-A", 2, "30.00")]), AT)[0]


def test_a_replacement_copies_buyer_and_address_prices_nothing_and_points_back():
    original = original_order([line("SKU-A", 2, "30.00"), line("CARD", 1, "50.00", virtual=True)])
    built = build_replacement(
        original,
        [ReplacementLine(sku="CARD", quantity=1), ReplacementLine(sku="SKU-B", quantity=1)],
        cause="exchange",
        cause_id="case-1",
    )
    assert built.order_id == replacement_id_for(original.order_id, "exchange", "case-1")
    assert built.order_id.startswith("rpl-")
    assert built.order_id != original.order_id
    assert built.buyer == original.buyer
    assert built.shipping_address == original.shipping_address
    assert built.amounts.total == Decimal("0.00")
    assert built.is_paid
    assert [(x.sku, x.unit_price, x.virtual) for x in built.lines] == [
        ("CARD", Decimal("0.00"), True),
        ("SKU-B", Decimal("0.00"), False),
    ]
    assert built.replaces is not None
    assert built.replaces.order_id == original.order_id
    assert len(built.platform_order_id) <= 64


def test_the_same_cause_gives_the_same_order_and_another_cause_another():
    original = original_order()
    lines = [ReplacementLine(sku=original.lines[0].sku, quantity=1)]
    a = build_replacement(original, lines, cause="reship", cause_id="exc-1")
    b = build_replacement(original, lines, cause="reship", cause_id="exc-1")
    c = build_replacement(original, lines, cause="reship", cause_id="exc-2")
    assert (a.order_id, a.request_hash) == (b.order_id, b.request_hash)
    assert c.order_id != a.order_id


def test_a_replacement_needs_distinct_lines():
    original = original_order()
    with pytest.raises(ValueError, match="at least one line"):
        build_replacement(original, [], cause="reship", cause_id="x")
    twice = [ReplacementLine(sku="A", quantity=1), ReplacementLine(sku="A", quantity=2)]
    with pytest.raises(ValueError, match="once"):
        build_replacement(original, twice, cause="reship", cause_id="x")


def test_review_approves_a_replacement_naming_the_order_it_replaces():
    outcome = approve_replacement("ord-1")
    assert outcome.decision == "approve"
    assert outcome.reasons[0].code == "REPLACEMENT"
    assert "ord-1" in outcome.reasons[0].message
