"""After-sales decisions without AWS: money per line, shares, warehouses of returned units, the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.aftersales import logic
from functions.aftersales.models import (
    Case,
    CaseLine,
    CaseStatus,
    case_id_for,
    order_id_of_case,
    refund_id_for,
)
from functions.core.rules import AfterSalesRules, ReviewRules
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _order(lines, **amounts):
    order, _ = stored_order(order_body(lines, **amounts), NOW)
    return order


def test_paid_per_line_shares_shipping_and_discount_and_adds_up_exactly():
    order = _order(
        [("A", 1, "10.00"), ("B", 1, "10.00"), ("C", 1, "10.00")], shipping="10.00", discount="0.01"
    )
    shares = logic.paid_per_line(order)
    assert sum(shares.values()) == order.amounts.total == Decimal("39.99")
    assert shares == {"A": Decimal("13.33"), "B": Decimal("13.33"), "C": Decimal("13.33")}


def test_the_last_line_takes_the_rounding_remainder():
    order = _order([("A", 3, "1.00"), ("B", 1, "1.00")], shipping="0.01")
    shares = logic.paid_per_line(order)
    assert shares["A"] == Decimal("3.00")  # 4.01 * 3 / 4 = 3.0075, rounded down
    assert shares["B"] == Decimal("1.01")
    assert sum(shares.values()) == Decimal("4.01")


def test_line_share_gives_the_last_units_exactly_what_is_left():
    state = logic.LineState(paid=Decimal("10.00"), quantity=3)
    assert logic.line_share(state, 1) == (Decimal("3.33"), False)
    after_two = logic.LineState(paid=Decimal("10.00"), quantity=3, committed=Decimal("6.66"), committed_qty=2)
    assert logic.line_share(after_two, 1) == (Decimal("3.34"), True)
    compensated = logic.LineState(paid=Decimal("10.00"), quantity=3, committed=Decimal("9.00"))
    assert logic.line_share(compensated, 1) == (Decimal("1.00"), False)  # never more than is left


def test_returned_units_go_back_to_the_warehouses_they_shipped_from_in_order():
    units = [("WH-A", 2), ("WH-B", 3)]
    assert logic.return_warehouses(units, 0, 1) == [("WH-A", 1)]
    assert logic.return_warehouses(units, 1, 3) == [("WH-A", 1), ("WH-B", 2)]
    assert logic.return_warehouses(units, 4, 1) == [("WH-B", 1)]


def _case(goods: str, **extra) -> Case:
    base = {
        "case_id": "as-ord-" + "0" * 24 + "-00000000",
        "order_id": "ord-" + "0" * 24,
        "platform": "tmall",
        "buyer_id": "b",
        "kind": "return_refund",
        "status": CaseStatus.REQUESTED,
        "reason": "quality",
        "lines": [CaseLine(sku="A", quantity=1, amount=Decimal(goods), warehouses=[("WH", 1)])],
        "whole_order": False,
        "amount": Decimal(goods),
        "goods_value": Decimal(goods),
        "currency": "CNY",
        "before_shipment": False,
        "return_required": True,
        "opened_by": "t",
        "opened_at": NOW,
        "updated_at": NOW,
    }
    return Case(**{**base, **extra})


def test_auto_approve_below_the_threshold_for_buyers_in_good_standing_only():
    rules = AfterSalesRules(auto_approve_below=Decimal("100"))
    assert logic.assess(_case("99.99"), True, rules) == "approve"
    assert logic.assess(_case("100.00"), True, rules) == "review"
    assert logic.assess(_case("5.00"), False, rules) == "review"


def test_good_standing_blacklist_and_case_count():
    order = _order([("A", 1, "10.00")])
    rules = AfterSalesRules(good_standing_max_cases=2)
    assert logic.in_good_standing(order, 1, rules, ReviewRules())[0] is True
    assert logic.in_good_standing(order, 2, rules, ReviewRules())[0] is False
    listed = ReviewRules(blacklisted_buyers=[order.buyer.id])
    assert logic.in_good_standing(order, 0, rules, listed) == (False, "buyer is blacklisted")


def test_refund_without_return_below_the_value():
    rules = AfterSalesRules(refund_without_return_below=Decimal("30"))
    lines = [CaseLine(sku="A", quantity=1, amount=Decimal("29.99"), warehouses=[("WH", 1)])]
    assert logic.return_required("return_refund", False, lines, Decimal("29.99"), rules) is False
    assert logic.return_required("return_refund", False, lines, Decimal("30.00"), rules) is True
    assert logic.return_required("refund_only", False, lines, Decimal("300"), rules) is False
    assert logic.return_required("exchange", False, lines, Decimal("300"), rules) is True


@pytest.mark.parametrize(
    ("status", "extra", "step"),
    [
        (CaseStatus.REQUESTED, {}, "assess"),
        (CaseStatus.APPROVED, {"before_shipment": True}, "intercept"),
        (CaseStatus.APPROVED, {}, "start_return"),
        (CaseStatus.APPROVED, {"return_required": False}, "refund"),
        (CaseStatus.APPROVED, {"return_required": False, "kind": "exchange"}, "replace"),
        (CaseStatus.INSPECTED, {"kind": "exchange"}, "replace"),
        (CaseStatus.INSPECTED, {}, "refund"),
        (CaseStatus.REFUNDED, {}, "close"),
        (CaseStatus.CLOSED, {}, "done"),
    ],
)
def test_next_step(status, extra, step):
    assert logic.next_step(_case("50.00", status=status, **extra), assessed=False) == step


def test_closing_gives_back_only_what_was_not_used():
    assert logic.settlement(_case("50.00", status=CaseStatus.AWAITING_RETURN)) == [("A", Decimal("50.00"), 1)]
    assert logic.settlement(_case("50.00", status=CaseStatus.REFUNDED)) == []


def test_ids_name_their_order_and_are_stable_for_a_reference():
    order_id = "ord-" + "a" * 24
    case_id = case_id_for(order_id, "TM-1")
    assert case_id == case_id_for(order_id, "TM-1") != case_id_for(order_id, "TM-2")
    assert order_id_of_case(case_id) == order_id
    assert refund_id_for(case_id) == f"rf-{case_id}"
    assert order_id_of_case("as-ord-xyz") is None
