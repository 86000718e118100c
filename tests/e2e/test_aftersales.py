"""After-sales end to end: each case type, each automation rule, the return deadline timer, roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from functions.core import repository
from tests.e2e.aftersales_support import (
    aftersales_rules,
    confirm_refund,
    finished,
    one_line_order,
    open_case,
    order_events,
    return_schedule,
    status_of,
    wait_assessed,
    wait_case,
)
from tests.e2e.stock_support import assert_conserved

pytestmark = pytest.mark.e2e


def test_refund_only_after_shipment_auto_approved_refunded_once(oms):
    order, sku = one_line_order(oms, quantity=2, price="40.00")
    opened = open_case(
        oms.as_role("customer_service"), order["order_id"], "refund_only", [{"sku": sku, "quantity": 1}]
    )
    assert opened.status == 201, opened.body
    case = opened.json()
    assert case["status"] == "REQUESTED"
    assert case["amount"] == "40.00"
    pending = wait_case(oms, case["case_id"], "REFUND_PENDING")
    assert pending["auto"] is True
    assert pending["decision"] == "approved"
    assert pending["refund_id"] == f"rf-{case['case_id']}"

    first = confirm_refund(oms, pending)
    assert first.status == 200, first.body
    assert first.json()["applied"] is True
    again = confirm_refund(oms, pending)
    assert again.status == 200
    assert again.json()["applied"] is False
    finished(oms, pending)

    closed = oms.call("GET", f"/aftersales/{case['case_id']}").json()
    assert closed["status"] == "CLOSED"
    assert closed["closed_reason"] == "refunded"
    stored = oms.order(order["order_id"])
    assert stored["status"] == "SHIPPED"  # the fulfilment status stays; the refund is summed beside it
    assert stored["refund_summary"]["refunded"] == "40.00"
    assert stored["refund_summary"]["refunds"] == 1
    events = order_events(order["order_id"])
    assert events.count("order.refunded") == 1
    for name in ("aftersales.requested", "aftersales.approved", "aftersales.closed"):
        assert name in events


def _refunded_event(order_id: str) -> dict:
    (event,) = [e for e in repository.load_aggregate(order_id).events if e.type == "order.refunded"]
    return event.detail


def test_return_and_refund_manual_approval_restocks_the_warehouse_it_shipped_from(oms):
    order, sku = one_line_order(oms, quantity=3, price="120.00")  # 2 units: 240 >= auto_approve_below 200
    before = oms.stock(sku)
    case = open_case(
        oms, order["order_id"], "return_refund", [{"sku": sku, "quantity": 2}], evidence=["https://img/1"]
    ).json()
    waiting = wait_assessed(oms, case["case_id"])
    assert waiting["status"] == "REQUESTED"
    assert waiting["assessed_at"]
    assert "for a person" in waiting["assessment"]
    refused = oms.as_role("ops").call("POST", f"/aftersales/{case['case_id']}/approve", {"comment": "ok"})
    assert refused.status == 403
    approved = oms.as_role("customer_service", "cs.zhao").call(
        "POST", f"/aftersales/{case['case_id']}/approve", {"comment": "photos show a defect"}
    )
    assert approved.status == 200, approved.body
    awaiting = wait_case(oms, case["case_id"], "AWAITING_RETURN")
    assert awaiting["return_deadline"]
    shipped = oms.as_platform("tmall").call(
        "POST", f"/aftersales/{case['case_id']}/return-shipped", {"waybill": "SF123", "carrier": "SF"}
    )
    assert shipped.status == 200, shipped.body
    assert (
        oms.as_role("customer_service").call("POST", f"/aftersales/{case['case_id']}/received", {}).status
        == 403
    )
    received = oms.as_role("ops").call("POST", f"/aftersales/{case['case_id']}/received", {"note": "box ok"})
    assert received.status == 200
    assert received.json()["status"] == "RECEIVED"
    inspected = oms.as_role("ops").call(
        "POST", f"/aftersales/{case['case_id']}/inspect", {"result": "resellable"}
    )
    assert inspected.status == 200, inspected.body
    after = oms.stock(sku)
    assert after["on_hand"] == before["on_hand"] + 2
    assert after["available"] == before["available"] + 2
    kinds = [m.kind for m in repository.stock_ledger(sku)]
    assert kinds.count("returned") == 1
    assert_conserved(sku)

    pending = wait_case(oms, case["case_id"], "REFUND_PENDING")
    assert pending["amount"] == "240.00"
    assert confirm_refund(oms, pending, oms.as_platform("tmall")).json()["applied"] is True
    finished(oms, pending)
    detail = _refunded_event(order["order_id"])
    assert detail["amount"] == "240.00"
    assert detail["refund_id"] == pending["refund_id"]
    assert detail["currency"] == "CNY"
    assert detail["lines"][0]["sku"] == sku
    events = order_events(order["order_id"])
    for name in (
        "aftersales.approved",
        "aftersales.return_received",
        "aftersales.inspected",
        "aftersales.closed",
    ):
        assert name in events


def test_damaged_return_is_written_off_not_restocked(oms):
    order, sku = one_line_order(oms, quantity=1, price="80.00")
    before = oms.stock(sku)
    case = open_case(oms, order["order_id"], "return_refund", reason="damaged").json()
    wait_case(oms, case["case_id"], "AWAITING_RETURN")  # 80 < 200: auto-approved; >= 30: goods come back
    oms.as_role("ops").call("POST", f"/aftersales/{case['case_id']}/received", {})
    inspected = oms.as_role("ops").call(
        "POST", f"/aftersales/{case['case_id']}/inspect", {"result": "damaged"}
    )
    assert inspected.status == 200
    assert inspected.json()["inspection"] == "damaged"
    assert oms.stock(sku) == before
    assert [m.kind for m in repository.stock_ledger(sku)].count("writeoff") == 1
    assert_conserved(sku)
    pending = wait_case(oms, case["case_id"], "REFUND_PENDING")
    confirm_refund(oms, pending)
    finished(oms, pending)


def test_cheap_return_is_refunded_without_the_goods_coming_back(oms):
    order, sku = one_line_order(oms, quantity=1, price="25.00")  # below refund_without_return_below (30)
    before = oms.stock(sku)
    case = open_case(oms, order["order_id"], "return_refund").json()
    assert case["return_required"] is False
    pending = wait_case(oms, case["case_id"], "REFUND_PENDING")
    assert "AWAITING_RETURN" not in [e["status"] for e in pending["timeline"]]
    confirm_refund(oms, pending)
    finished(oms, pending)
    assert oms.stock(sku) == before


def test_return_deadline_closes_the_case_and_gives_its_claim_back(oms, stack):
    order, sku = one_line_order(oms, quantity=1, price="90.00")
    case = open_case(oms, order["order_id"], "return_refund").json()
    awaiting = wait_case(oms, case["case_id"], "AWAITING_RETURN")
    again = open_case(oms, order["order_id"], "return_refund")
    assert again.status == 409
    assert again.json()["error"]["code"] == "OVER_CLAIMED"

    due = datetime.fromisoformat(awaiting["return_deadline"])
    schedule = return_schedule(stack, case["case_id"])
    assert schedule is not None
    assert schedule["Target"]["Arn"].endswith(":function:AfterSalesTimerFunction")
    stack.clock.advance_to(due - timedelta(seconds=1))
    stack.settle()
    assert status_of(case["case_id"]) == "AWAITING_RETURN"
    stack.clock.advance_to(due)  # the buyer never shipped it back: the one-time schedule fires
    closed = wait_case(oms, case["case_id"], "CLOSED")
    assert closed["closed_reason"] == "return_not_shipped"
    assert closed["return_deadline"] == awaiting["return_deadline"]
    finished(oms, closed)
    assert "order.refunded" not in order_events(order["order_id"])
    counters = repository.line_counters(order["order_id"])[sku]
    assert counters.committed == 0
    assert counters.committed_qty == 0
    with aftersales_rules(oms, return_window_days=30):  # 7 days after shipping the default window closed
        assert open_case(oms, order["order_id"], "refund_only", reason="not_received").status == 201


def test_return_shipped_in_time_stops_the_deadline(oms, stack):
    order, _ = one_line_order(oms, quantity=1, price="90.00")
    case = open_case(oms, order["order_id"], "return_refund").json()
    awaiting = wait_case(oms, case["case_id"], "AWAITING_RETURN")
    body = {"waybill": "YT-778", "carrier": "YTO"}
    assert oms.call("POST", f"/aftersales/{case['case_id']}/return-shipped", body).status == 200
    stack.clock.advance_to(datetime.fromisoformat(awaiting["return_deadline"]) + timedelta(minutes=10))
    stack.settle()
    still = oms.call("GET", f"/aftersales/{case['case_id']}").json()
    assert still["status"] == "AWAITING_RETURN"
    assert still["return_waybill"] == "YT-778"


def test_refund_before_shipment_intercepts_the_order_and_releases_stock(oms, stack):
    from tests.factories import new_sku, order_body
    from tests.review_helpers import post_and_hold

    sku = new_sku("ASB")
    oms.set_stock(sku, 10)
    posted = post_and_hold(oms, stack, order_body([(sku, 2, "30.00")], shipping="8.00", remark="call me"))
    order_id = posted["order_id"]
    partial = open_case(oms, order_id, "refund_only", [{"sku": sku, "quantity": 1}])
    assert partial.status == 409
    assert partial.json()["error"]["code"] == "WHOLE_ORDER_BEFORE_SHIPMENT"
    returned = open_case(oms, order_id, "return_refund")
    assert returned.status == 409
    assert returned.json()["error"]["code"] == "NOT_SHIPPED"

    case = open_case(oms, order_id, "refund_only", reason="changed_mind").json()
    assert case["before_shipment"] is True
    assert case["amount"] == "68.00"
    pending = wait_case(oms, case["case_id"], "REFUND_PENDING", advance=True)
    assert "INTERCEPTING" in [e["status"] for e in pending["timeline"]]
    stored = oms.order(order_id)
    assert stored["status"] == "CANCELLED"
    assert stored["interception"]["action"] == "cancel"
    assert oms.stock(sku)["reserved"] == 0
    assert_conserved(sku)
    confirm_refund(oms, pending)
    finished(oms, pending)
    assert oms.order(order_id)["refund_summary"]["full"] is True


def test_exchange_ships_the_other_size_through_allocation_and_shipping(oms):
    order, sku = one_line_order(oms, quantity=1, price="60.00")
    other = sku + "-XL"
    oms.set_stock(other, 3)
    case = open_case(
        oms,
        order["order_id"],
        "exchange",
        [{"sku": sku, "quantity": 1, "exchange_sku": other}],
        reason="size_or_colour",
    ).json()
    assert case["amount"] == "0.00"
    assert case["goods_value"] == "60.00"
    wait_case(oms, case["case_id"], "AWAITING_RETURN")
    oms.as_role("ops").call("POST", f"/aftersales/{case['case_id']}/received", {})
    oms.as_role("ops").call("POST", f"/aftersales/{case['case_id']}/inspect", {"result": "resellable"})
    done = wait_case(oms, case["case_id"], "CLOSED", advance=True)
    assert done["closed_reason"] == "exchanged"
    replacement = oms.order(done["replacement_order_id"])
    assert replacement["status"] == "SHIPPED"
    assert replacement["replaces"] == {
        "order_id": order["order_id"],
        "cause": "exchange",
        "cause_id": case["case_id"],
    }
    assert [line["sku"] for line in replacement["lines"]] == [other]
    assert oms.stock(other)["on_hand"] == 2
    assert_conserved(other)
    assert_conserved(sku)
    events = order_events(order["order_id"])
    assert "aftersales.replacement_created" in events
    assert "order.refunded" not in events
    assert repository.line_counters(order["order_id"])[sku].refunded == 0


def test_buyer_not_in_good_standing_waits_for_a_person(oms):
    with_cases, sku = one_line_order(oms, quantity=4, price="10.00")
    first = None
    with_rules = {"good_standing_max_cases": 2}

    with aftersales_rules(oms, **with_rules):
        for _ in range(2):
            opened = open_case(oms, with_cases["order_id"], "refund_only", [{"sku": sku, "quantity": 1}])
            first = first or opened.json()
            wait_case(oms, opened.json()["case_id"], "REFUND_PENDING")
        third = open_case(oms, with_cases["order_id"], "refund_only", [{"sku": sku, "quantity": 1}]).json()
        held = wait_assessed(oms, third["case_id"])
        assert held["status"] == "REQUESTED"
        assert "other cases" in held["assessment"]
        rejected = oms.as_role("customer_service").call(
            "POST", f"/aftersales/{third['case_id']}/reject", {"comment": "abuse"}
        )
        assert rejected.status == 200
        closed = wait_case(oms, third["case_id"], "CLOSED")
        assert closed["closed_reason"] == "rejected"
    assert "aftersales.rejected" in order_events(with_cases["order_id"])


def test_platform_opens_cases_only_on_its_own_orders(oms):
    order, _sku = one_line_order(oms, quantity=1, price="20.00")
    other = oms.as_platform("jd").call(
        "POST", f"/orders/{order['order_id']}/aftersales", {"kind": "refund_only", "reason": "quality"}
    )
    assert other.status == 404
    assert (
        oms.as_role("viewer")
        .call("POST", f"/orders/{order['order_id']}/aftersales", {"kind": "refund_only", "reason": "quality"})
        .status
        == 403
    )
    own = open_case(oms.as_platform("tmall"), order["order_id"], "refund_only", reference="TM-RF-1")
    assert own.status == 201, own.body
    resent = open_case(oms.as_platform("tmall"), order["order_id"], "refund_only", reference="TM-RF-1")
    assert resent.status == 200
    assert resent.json()["case_id"] == own.json()["case_id"]
    case_id = own.json()["case_id"]
    assert oms.as_platform("jd").call("GET", f"/aftersales/{case_id}").status == 404
    assert oms.as_platform("tmall").call("GET", f"/aftersales/{case_id}").status == 200
    assert oms.as_platform("tmall").call("POST", f"/aftersales/{case_id}/approve", {}).status == 403
    pending = wait_case(oms, case_id, "REFUND_PENDING")
    forged = oms.as_platform("jd").call(
        "POST",
        f"/refunds/{pending['refund_id']}/callback",
        {"status": "succeeded", "amount": pending["amount"]},
    )
    assert forged.status == 404
    wrong = oms.call(
        "POST", f"/refunds/{pending['refund_id']}/callback", {"status": "succeeded", "amount": "1.00"}
    )
    assert wrong.status == 422
    listed = oms.as_role("viewer").call("GET", f"/orders/{order['order_id']}/aftersales").json()
    assert [c["case_id"] for c in listed["cases"]] == [case_id]
    confirm_refund(oms, pending)
    finished(oms, pending)
    assert Decimal(oms.order(order["order_id"])["refund_summary"]["refunded"]) == Decimal("20.00")


def test_the_sweep_closes_a_case_whose_deadline_schedule_was_lost(oms, stack):
    order, _ = one_line_order(oms, quantity=1, price="90.00")
    case = open_case(oms, order["order_id"], "return_refund").json()
    awaiting = wait_case(oms, case["case_id"], "AWAITING_RETURN")
    from functions.aftersales.timers import schedule_name

    scheduler = stack.session.client("scheduler")
    group = return_schedule(stack, case["case_id"])["GroupName"]
    scheduler.delete_schedule(Name=schedule_name(case["case_id"]), GroupName=group)
    stack.clock.advance_to(datetime.fromisoformat(awaiting["return_deadline"]) + timedelta(seconds=1))
    stack.advance(5 * 60 + 1)  # the next rate(5 minutes) sweep
    closed = wait_case(oms, case["case_id"], "CLOSED")
    assert closed["closed_reason"] == "return_not_shipped"


def test_concurrent_cases_cannot_claim_the_same_money_twice(oms):
    from concurrent.futures import ThreadPoolExecutor

    order, sku = one_line_order(oms, quantity=2, price="40.00")
    callers = [oms.as_role("customer_service", f"cs-{i}") for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda c: open_case(c, order["order_id"], "refund_only"), callers))
    assert sorted(a.status for a in answers) == [201, 409, 409, 409], [a.body for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status == 409} <= {
        "OVER_CLAIMED",
        "NOTHING_TO_REFUND",
    }
    counters = repository.line_counters(order["order_id"])[sku]
    assert counters.committed == Decimal("80.00")
    assert counters.committed_qty == 2


def test_exchange_for_a_size_out_of_stock_is_refunded_instead(oms):
    order, sku = one_line_order(oms, quantity=1, price="25.00")  # below 30: no return needed
    other = sku + "-XS"
    oms.set_stock(other, 0)
    lines = [{"sku": sku, "quantity": 1, "exchange_sku": other}]
    case = open_case(oms, order["order_id"], "exchange", lines, reason="size_or_colour").json()
    pending = wait_case(oms, case["case_id"], "REFUND_PENDING", advance=True)
    assert pending["amount"] == "25.00"
    assert oms.order(pending["replacement_order_id"])["status"] == "REJECTED"
    assert confirm_refund(oms, pending).json()["applied"] is True
    finished(oms, pending)
    assert oms.order(order["order_id"])["refund_summary"]["refunded"] == "25.00"


def test_cases_open_only_within_the_return_window(oms, stack):
    order, _ = one_line_order(oms, quantity=1, price="50.00")
    stack.clock.advance_to(stack.clock.now() + timedelta(days=7, minutes=1))
    stack.settle()
    late = open_case(oms, order["order_id"], "return_refund")
    assert late.status == 409
    assert late.json()["error"]["code"] == "RETURN_WINDOW_CLOSED"
    assert repository.line_counters(order["order_id"]) == {}
