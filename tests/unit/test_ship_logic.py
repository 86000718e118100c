"""Packing reservations into shipments, and naming them deterministically."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from functions.core.models.stock import Reservation
from functions.ship.logic import DEFAULT_CARRIER, plan_shipments, tracking_number

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORDER_ID = "ord-0123456789abcdef01234567"


def res(sku: str, warehouse: str, quantity: int = 1) -> Reservation:
    return Reservation(sku=sku, warehouse=warehouse, quantity=quantity)


def test_one_shipment_per_warehouse_with_its_lines():
    reservations = [res("B", "WH-2", 2), res("A", "WH-1", 1), res("C", "WH-2", 3), res("A", "WH-2", 4)]
    shipments = plan_shipments(ORDER_ID, reservations, AT)
    assert [s.warehouse for s in shipments] == ["WH-1", "WH-2"]
    assert shipments[0].lines == [res("A", "WH-1", 1)]
    assert shipments[1].lines == [res("A", "WH-2", 4), res("B", "WH-2", 2), res("C", "WH-2", 3)]
    for shipment in shipments:
        assert shipment.order_id == ORDER_ID
        assert shipment.shipment_id == f"{ORDER_ID}-{shipment.warehouse}"
        assert shipment.carrier == DEFAULT_CARRIER
        assert shipment.created_at == AT


def test_every_reserved_unit_is_shipped_exactly_once():
    reservations = [res("A", "WH-1", 2), res("B", "WH-2", 5), res("C", "WH-1", 1)]
    shipped = [r for s in plan_shipments(ORDER_ID, reservations, AT) for r in s.lines]
    assert sorted(shipped, key=lambda r: r.sku) == sorted(reservations, key=lambda r: r.sku)


def test_plan_is_deterministic_regardless_of_input_order():
    reservations = [res("A", "WH-1"), res("B", "WH-2"), res("C", "WH-1")]
    first = plan_shipments(ORDER_ID, reservations, AT)
    again = plan_shipments(ORDER_ID, list(reversed(reservations)), AT)
    assert first == again


def test_tracking_number_is_carrier_prefix_and_12_digits():
    number = tracking_number("SF", f"{ORDER_ID}-WH-1")
    assert re.fullmatch(r"SF\d{12}", number)


def test_tracking_number_is_a_function_of_the_shipment_id():
    assert tracking_number("SF", "ship-1") == tracking_number("SF", "ship-1")
    assert tracking_number("SF", "ship-1") != tracking_number("SF", "ship-2")
    assert tracking_number("YTO", "ship-1").startswith("YTO")
    assert tracking_number("YTO", "ship-1")[3:] == tracking_number("SF", "ship-1")[2:]


def test_shipments_carry_their_tracking_numbers_and_carrier():
    shipments = plan_shipments(ORDER_ID, [res("A", "WH-1"), res("B", "WH-2")], AT, carrier="ZTO")
    assert [s.tracking_number for s in shipments] == [
        tracking_number("ZTO", s.shipment_id) for s in shipments
    ]
    assert len({s.tracking_number for s in shipments}) == 2
    assert all(s.carrier == "ZTO" for s in shipments)


def test_no_reservations_no_shipments():
    assert plan_shipments(ORDER_ID, [], AT) == []
