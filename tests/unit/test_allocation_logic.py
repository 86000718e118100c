"""Sourcing plan: which warehouse serves each line, from stock levels alone."""

from __future__ import annotations

from functions.allocate.logic import plan_allocation
from functions.core.models import OrderLine, Reservation, StockLevel

PREFERRED = "WH-MAIN"


def ol(sku: str, quantity: int) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price="1.00")


def level(sku: str, warehouse: str, available: int, reserved: int = 0) -> StockLevel:
    return StockLevel(
        sku=sku, warehouse=warehouse, on_hand=available + reserved, reserved=reserved, available=available
    )


def test_preferred_warehouse_wins_when_it_can_serve_the_line():
    stock = {"A": [level("A", "WH-BIG", 100), level("A", PREFERRED, 3)]}
    plan = plan_allocation([ol("A", 3)], stock, PREFERRED)
    assert plan.complete
    assert plan.reservations == [Reservation(sku="A", warehouse=PREFERRED, quantity=3)]


def test_falls_back_to_the_warehouse_with_most_available():
    stock = {
        "A": [level("A", PREFERRED, 2), level("A", "WH-SMALL", 6), level("A", "WH-BIG", 9)],
    }
    plan = plan_allocation([ol("A", 5)], stock, PREFERRED)
    assert plan.reservations == [Reservation(sku="A", warehouse="WH-BIG", quantity=5)]
    assert plan.short == []


def test_tie_between_fallbacks_is_broken_by_warehouse_name():
    stock = {"A": [level("A", "WH-Z", 7), level("A", "WH-B", 7)]}
    plan = plan_allocation([ol("A", 1)], stock, PREFERRED)
    assert plan.reservations[0].warehouse == "WH-B"


def test_only_available_counts_not_on_hand():
    stock = {"A": [level("A", PREFERRED, available=1, reserved=50)]}
    plan = plan_allocation([ol("A", 2)], stock, PREFERRED)
    assert plan.short == ["A"]
    assert plan.reservations == []


def test_exactly_enough_is_enough():
    plan = plan_allocation([ol("A", 4)], {"A": [level("A", PREFERRED, 4)]}, PREFERRED)
    assert plan.complete
    assert plan.reservations[0].quantity == 4


def test_sku_without_any_stock_row_is_short():
    plan = plan_allocation([ol("GHOST", 1)], {}, PREFERRED)
    assert not plan.complete
    assert plan.short == ["GHOST"]


def test_a_line_is_not_split_across_warehouses():
    stock = {"A": [level("A", PREFERRED, 3), level("A", "WH-B", 3)]}
    plan = plan_allocation([ol("A", 5)], stock, PREFERRED)
    assert plan.short == ["A"]
    assert plan.reservations == []


def test_each_line_is_sourced_independently_and_short_skus_are_all_listed():
    stock = {
        "A": [level("A", PREFERRED, 10)],
        "B": [level("B", "WH-B", 5)],
        "C": [level("C", PREFERRED, 1)],
    }
    plan = plan_allocation([ol("A", 2), ol("B", 5), ol("C", 2), ol("D", 1)], stock, PREFERRED)
    assert plan.reservations == [
        Reservation(sku="A", warehouse=PREFERRED, quantity=2),
        Reservation(sku="B", warehouse="WH-B", quantity=5),
    ]
    assert plan.short == ["C", "D"]
    assert not plan.complete
