"""GET /reports/sales over orders that really went through the pipeline."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def test_sales_report_for_a_platform(oms, stack):
    platform = f"r{uuid.uuid4().hex[:10]}"
    hot, cold = new_sku(), new_sku()
    oms.set_stock(hot, 100)
    oms.set_stock(cold, 100)
    first_day = stack.clock.now().date()
    oms.run(order_body([(hot, 2, "10.00"), (cold, 1, "5.00")], platform=platform))
    oms.run(order_body([(hot, 1, "10.00")], platform=platform, total="1.00"))  # rejected: no revenue
    stack.clock.advance(24 * 3600)
    second_day = stack.clock.now().date()
    oms.run(order_body([(hot, 3, "10.00")], platform=platform))
    stack.settle()  # the stream records reach the sales aggregator

    response = oms.as_role("viewer").call(
        "GET", f"/reports/sales?platform={platform}&from={first_day}&to={second_day}&top=5"
    )
    assert response.status == 200, response.body
    report = response.json()
    assert (report["orders"], report["sales"], report["revenue"]) == (3, 2, {"CNY": "55.00"})
    assert [(d["day"], d["orders"], d["revenue"]) for d in report["days"]] == [
        (str(first_day), 2, {"CNY": "25.00"}),
        (str(second_day), 1, {"CNY": "30.00"}),
    ]
    assert {p["platform"] for p in report["platforms"]} == {platform}
    assert [(s["sku"], s["quantity"]) for s in report["top_skus"]] == [(hot, 5), (cold, 1)]


def test_report_range_is_checked(oms):
    assert oms.call("GET", "/reports/sales?from=2026-03-02&to=2026-03-01").status == 400
    too_long = oms.call("GET", "/reports/sales?from=2026-01-01&to=2026-12-31")
    assert too_long.status == 400
    assert "92 days" in too_long.json()["error"]["message"]
    assert oms.call("GET", "/reports/sales?top=0").status == 422


def test_default_report_is_the_last_30_days(oms):
    report = oms.call("GET", "/reports/sales").json()
    assert len(report["days"]) == 30
