"""Line changes in the sales figures: GET /reports/sales (the stream-fed counters and `source=orders`)
counts what a change refunded and the lines it took away, so a partial cancellation never leaves the
revenue overstated; exact money."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.stock_support import allocation_rules, eventually
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def change(oms: Any, order_id: str, lines: dict[str, int], reference: str) -> dict[str, Any]:
    answer = oms.as_role("ops", "ops.li").call(
        "POST",
        f"/orders/{order_id}/changes/lines",
        {
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines.items()],
            "reason": "buyer asked",
            "reference": reference,
        },
    )
    assert answer.status == 200, answer.body
    return answer.json()  # type: ignore[no-any-return]


def reports(oms: Any, platform: str, day: str) -> list[dict[str, Any]]:
    """The report from the counters and the audit recount from the orders: they must agree."""
    both = []
    for source in ("aggregates", "orders"):
        answer = oms.as_role("viewer").call(
            "GET", f"/reports/sales?platform={platform}&from={day}&to={day}&source={source}"
        )
        assert answer.status == 200, answer.body
        both.append(answer.json())
    return both


def figures(report: dict[str, Any]) -> dict[str, Any]:
    day = report["days"][0]
    return {
        "orders": report["orders"],
        "sales": report["sales"],
        "revenue": report["revenue"],
        "refunded": report["refunded"],
        "cancelled": report["cancelled"],
        "cancelled_amount": report["cancelled_amount"],
        "units": day["units"],
        "day_revenue": day["revenue"],
        "top": {s["sku"]: (s["quantity"], s["orders"], s["revenue"]) for s in report["top_skus"]},
    }


def allocated(oms: Any, body: dict[str, Any]) -> dict[str, Any]:
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")
    return posted.json()  # type: ignore[no-any-return]


def test_a_paid_order_with_a_line_cancelled_reports_the_refund_and_net_revenue_exactly(oms, stack):
    platform = f"c{uuid.uuid4().hex[:10]}"
    a, b, c = new_sku(), new_sku(), new_sku()
    for sku in (a, b, c):
        oms.set_stock(sku, 5)
    body = order_body([(a, 1, "33.33"), (b, 1, "33.33"), (c, 1, "33.33")], platform=platform)  # 99.99
    with allocation_rules(oms, merge_window_minutes=30):
        posted = allocated(oms, body)
        stack.settle()  # the sale is folded before the change: the change moves the counters after it
        answer = change(oms, posted["order_id"], {c: 0}, "chg-c")
        assert answer["refund"] == "33.33"
        oms.wait(posted["execution_arn"])
    assert oms.order(posted["order_id"])["status"] == "SHIPPED"
    stack.settle()

    day = oms.order(posted["order_id"])["created_at"][:10]
    expected = {
        "orders": 1,
        "sales": 1,
        "revenue": {"CNY": "66.66"},  # 99.99 paid less the 33.33 refunded
        "refunded": {"CNY": "33.33"},
        "cancelled": 0,
        "cancelled_amount": {},
        "units": 2,
        "day_revenue": {"CNY": "66.66"},
        "top": {a: (1, 1, {"CNY": "33.33"}), b: (1, 1, {"CNY": "33.33"})},
    }
    for report in reports(oms, platform, day):
        assert figures(report) == expected, report["source"]


def test_a_lowered_quantity_then_every_line_cancelled_leaves_no_revenue(oms, stack):
    platform = f"d{uuid.uuid4().hex[:10]}"
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    body = order_body([(a, 3, "33.33"), (b, 1, "10.00")], platform=platform, shipping="5.00")  # 114.99
    with allocation_rules(oms, merge_window_minutes=30):
        posted = allocated(oms, body)
        order_id = posted["order_id"]
        # A's share of 114.99 by value (99.99 of 109.99 of lines): 104.53; one of its three units: 34.84
        lowered = change(oms, order_id, {a: 2}, "chg-1")
        assert (lowered["refund"], lowered["cancelled"]) == ("34.84", False)
        stack.settle()
        day = oms.order(order_id)["created_at"][:10]
        for report in reports(oms, platform, day):
            got = figures(report)
            assert (got["revenue"], got["refunded"], got["units"]) == (
                {"CNY": "80.15"},  # 114.99 - 34.84
                {"CNY": "34.84"},
                3,
            ), report["source"]
            assert got["top"][a] == (2, 1, {"CNY": "66.66"}), report["source"]

        everything = change(oms, order_id, {a: 0, b: 0}, "chg-2")
        assert (everything["refund"], everything["cancelled"]) == ("80.15", True)
        oms.wait(posted["execution_arn"])
    assert oms.order(order_id)["status"] == "CANCELLED"
    stack.settle()

    for report in reports(oms, platform, day):
        got = figures(report)
        # the partial refund stays a refund; what was left is the cancellation's
        assert (got["orders"], got["sales"], got["cancelled"], got["units"]) == (1, 0, 1, 0), report["source"]
        assert (got["revenue"], got["refunded"], got["cancelled_amount"]) == (
            {},
            {"CNY": "34.84"},
            {"CNY": "80.15"},
        ), report["source"]


def test_an_unpaid_order_changed_reports_its_new_total(oms, stack):
    platform = f"u{uuid.uuid4().hex[:10]}"
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    body = order_body(
        [(a, 2, "20.00"), (b, 1, "7.50")], platform=platform, payment={"status": "unpaid"}
    )  # 47.50, waiting for its payment
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="awaiting payment")
    answer = change(oms, order_id, {a: 1, b: 3}, "chg-u")
    assert (answer["refund"], answer["total"]) == (None, "42.50")
    stack.settle()

    day = oms.order(order_id)["created_at"][:10]
    for report in reports(oms, platform, day):
        got = figures(report)
        assert (got["sales"], got["revenue"], got["refunded"], got["units"]) == (
            1,
            {"CNY": "42.50"},
            {},
            4,
        ), report["source"]
        assert got["top"] == {b: (3, 1, {"CNY": "22.50"}), a: (1, 1, {"CNY": "20.00"})}, report["source"]
