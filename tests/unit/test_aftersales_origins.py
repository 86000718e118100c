"""Refunds by bundle origin, without AWS: a component line merged from two bundles refunds each bundle's
share of what was paid, exactly, and however the returns come, never more than was paid in all."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.aftersales import logic
from functions.aftersales.models import CaseIn, CaseLine
from functions.core.errors import RefusedError
from functions.core.models.aftersales import LineCounter
from functions.core.models.orders import Order
from functions.core.products import Component, Product
from functions.core.rules import AfterSalesRules
from functions.core.status import OrderStatus
from functions.ingest.logic import stored_lines
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RULES = AfterSalesRules()


def bundle(sku: str, *components: tuple[str, int, str]) -> Product:
    return Product(
        sku=sku,
        version=1,
        components=tuple(Component(sku=c, quantity=q, value=Decimal(v)) for c, q, v in components),
    )


MASTER = {
    "CUP-BOX": bundle("CUP-BOX", ("TEA", 1, "60.00"), ("CUP", 2, "20.00")),
    "POT-BOX": bundle("POT-BOX", ("TEA", 2, "10.00"), ("POT", 1, "50.00")),
    **{sku: Product(sku=sku, version=1) for sku in ("TEA", "CUP", "POT")},
}


def two_bundle_order(cup_boxes: int, pot_boxes: int, cup_price: str, pot_price: str, shipping: str) -> Order:
    body = order_body(
        [("CUP-BOX", cup_boxes, cup_price), ("POT-BOX", pot_boxes, pot_price)], shipping=shipping
    )
    order, _ = stored_order(body, NOW)
    lines = stored_lines(order.lines, MASTER)
    return order.model_copy(update={"lines": lines, "status": OrderStatus.SHIPPED})


def refund(order: Order, counters: dict[str, LineCounter], lines: list[dict[str, object]]) -> list[CaseLine]:
    """Open a refund case for `lines` and claim it on `counters` as the repository's update would,
    checking the bounds its conditions enforce."""
    request = CaseIn.model_validate({"kind": "refund_only", "reason": "quality", "lines": lines})
    planned = logic.plan_lines(order, [], request, counters, NOW, RULES)
    paid = logic.paid_per_line(order)
    for line in planned:
        stored = next(s for s in order.lines if s.sku == line.sku)
        before = counters.get(line.sku) or LineCounter(
            sku=line.sku, paid=paid[line.sku], quantity=stored.quantity
        )
        by_origin = dict(before.origin_committed)
        units_by_origin = dict(before.origin_committed_qty)
        origin_paid = logic.origin_paid(paid[line.sku], stored.origins or ())
        for part in line.origins:
            by_origin[part.line] = by_origin.get(part.line, Decimal("0.00")) + part.amount
            units_by_origin[part.line] = units_by_origin.get(part.line, 0) + part.quantity
            assert by_origin[part.line] <= origin_paid[part.line]
        assert sum((part.amount for part in line.origins), Decimal("0.00")) == line.amount
        counters[line.sku] = before.model_copy(
            update={
                "committed": before.committed + line.amount,
                "committed_qty": before.committed_qty + line.quantity,
                "origin_committed": by_origin,
                "origin_committed_qty": units_by_origin,
            }
        )
        assert counters[line.sku].committed <= paid[line.sku]
    return planned


def test_returning_one_bundle_refunds_that_bundles_share_not_the_merged_lines_average():
    order = two_bundle_order(1, 1, "100.00", "70.00", "0.00")
    tea = next(line for line in order.lines if line.sku == "TEA")
    assert [(o.sku, o.quantity, o.amount) for o in tea.origins or ()] == [
        ("CUP-BOX", 1, Decimal("60.00")),  # 60 of the cup box's 100
        ("POT-BOX", 2, Decimal("20.00")),  # 2 x 10 of the pot box's 70
    ]
    counters: dict[str, LineCounter] = {}
    pot_box = refund(order, counters, [{"sku": "POT-BOX", "quantity": 1}])
    assert {(line.sku, line.quantity, line.amount) for line in pot_box} == {
        ("TEA", 2, Decimal("20.00")),  # the average would have been 80.00 x 2/3 = 53.33
        ("POT", 1, Decimal("50.00")),
    }
    cup_box = refund(order, counters, [{"sku": "CUP-BOX", "quantity": 1}])
    assert sum((line.amount for line in cup_box), Decimal("0.00")) == Decimal("100.00")
    with pytest.raises(RefusedError) as refused:
        refund(order, counters, [{"sku": "TEA", "quantity": 1}])  # a fourth tea unit
    assert refused.value.code == "OVER_CLAIMED"


def test_a_component_named_directly_on_a_merged_line_takes_the_origins_in_posted_order():
    order = two_bundle_order(1, 1, "100.00", "70.00", "0.00")
    counters: dict[str, LineCounter] = {}
    (first,) = refund(order, counters, [{"sku": "TEA", "quantity": 2}])
    assert [(p.line, p.quantity, p.amount) for p in first.origins] == [
        (0, 1, Decimal("60.00")),
        (1, 1, Decimal("10.00")),
    ]


asks = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["CUP-BOX", "POT-BOX"]), st.integers(1, 3)),
        st.tuples(st.sampled_from(["TEA", "CUP", "POT"]), st.integers(1, 4)),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    cup_boxes=st.integers(1, 4),
    pot_boxes=st.integers(1, 4),
    cup_cents=st.integers(1, 50_000),
    pot_cents=st.integers(1, 50_000),
    shipping_cents=st.integers(0, 2_000),
    returns=asks,
)
def test_random_returns_of_two_bundles_sharing_a_component_refund_what_was_paid_never_more(
    cup_boxes, pot_boxes, cup_cents, pot_cents, shipping_cents, returns
):
    cents = Decimal("0.01")
    order = two_bundle_order(
        cup_boxes, pot_boxes, str(cup_cents * cents), str(pot_cents * cents), str(shipping_cents * cents)
    )
    paid = logic.paid_total(order)
    counters: dict[str, LineCounter] = {}
    refunded = Decimal("0.00")
    refusals: set[str] = set()
    for sku, quantity in returns:
        try:
            planned = refund(order, counters, [{"sku": sku, "quantity": quantity}])
        except RefusedError as refused:
            refusals.add(refused.code)
            continue
        refunded += sum((line.amount for line in planned), Decimal("0.00"))
        assert refunded <= paid
    assert refusals <= {"OVER_CLAIMED", "TOO_MANY_UNITS", "NOTHING_TO_REFUND"}
    rest = [
        {
            "sku": line.sku,
            "quantity": line.quantity - (counters[line.sku].committed_qty if line.sku in counters else 0),
        }
        for line in order.lines
    ]
    rest = [ask for ask in rest if ask["quantity"]]
    if rest:
        refunded += sum((line.amount for line in refund(order, counters, rest)), Decimal("0.00"))
    assert refunded == paid  # everything returned: exactly what was paid, to the cent
    for line in order.lines:
        origin_paid = logic.origin_paid(logic.paid_per_line(order)[line.sku], line.origins or ())
        assert counters[line.sku].origin_committed == origin_paid  # every bundle got exactly its share
