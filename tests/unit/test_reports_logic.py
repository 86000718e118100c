from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from functions.core.status import OrderStatus
from functions.reports.logic import aggregate
from tests.factories import order_body, stored_order


def order(
    day: int, *, platform="tmall", status=OrderStatus.SHIPPED, lines=(("A", 1, "10.00"),), currency="CNY"
):
    stored, _ = stored_order(
        order_body(list(lines), platform=platform, currency=currency), datetime(2026, 3, day, 15, tzinfo=UTC)
    )
    return stored.model_copy(update={"status": status})


def test_days_platforms_and_revenue():
    orders = [
        order(1),
        order(1, platform="jd", lines=[("B", 2, "5.50")]),
        order(3, lines=[("A", 3, "10.00")]),
        order(3, status=OrderStatus.REJECTED, lines=[("A", 100, "10.00")]),
    ]
    report = aggregate(orders, date(2026, 3, 1), date(2026, 3, 3))
    assert [(d.day.day, d.orders, d.sales, d.revenue) for d in report.days] == [
        (1, 2, 2, {"CNY": "21.00"}),
        (2, 0, 0, {}),
        (3, 2, 1, {"CNY": "30.00"}),
    ]
    assert (report.orders, report.sales, report.revenue) == (4, 3, {"CNY": "51.00"})
    assert [(p.platform, p.day.day, p.orders, p.revenue) for p in report.platforms] == [
        ("jd", 1, 1, {"CNY": "11.00"}),
        ("tmall", 1, 1, {"CNY": "10.00"}),
        ("tmall", 3, 2, {"CNY": "30.00"}),
    ]
    assert [(s.sku, s.quantity, s.orders, s.revenue) for s in report.top_skus] == [
        ("A", 4, 2, {"CNY": "40.00"}),  # the rejected order's 100 do not count
        ("B", 2, 1, {"CNY": "11.00"}),
    ]


def test_currencies_are_never_added_together():
    report = aggregate([order(1), order(1, currency="USD")], date(2026, 3, 1), date(2026, 3, 1))
    assert report.revenue == {"CNY": "10.00", "USD": "10.00"}


def test_top_limits_and_ties_break_by_sku():
    orders = [order(1, lines=[(sku, 1, "1.00")]) for sku in ("C", "B", "A")]
    report = aggregate(orders, date(2026, 3, 1), date(2026, 3, 1), top=2)
    assert [s.sku for s in report.top_skus] == ["A", "B"]


def test_orders_outside_the_range_are_ignored():
    report = aggregate([order(5)], date(2026, 3, 1), date(2026, 3, 2))
    assert report.orders == 0
    assert len(report.days) == 2


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="before"):
        aggregate([], date(2026, 3, 2), date(2026, 3, 1))


def test_the_orders_recount_counts_as_the_aggregates_do_no_replacements_and_net_of_refunds():
    """source=orders counted replacement orders and missed refunds (50 / 15025.50 vs 48 / 14817.60)."""
    from decimal import Decimal

    from functions.core.models.orders import RefundSummary, ReplacementOf

    sale = order(1, lines=[("A", 2, "100.00")])
    refunded = order(1, lines=[("B", 1, "50.00")]).model_copy(
        update={"refund_summary": RefundSummary(refunded=Decimal("20.00"), currency="CNY", refunds=1)}
    )
    replacement = order(1, lines=[("A", 1, "0.00")]).model_copy(
        update={"replaces": ReplacementOf(order_id=sale.order_id, cause="reship", cause_id="EXC-1")}
    )
    cancelled_refunded = order(1, status=OrderStatus.CANCELLED, lines=[("C", 1, "30.00")]).model_copy(
        update={"refund_summary": RefundSummary(refunded=Decimal("30.00"), currency="CNY", refunds=1)}
    )
    report = aggregate([sale, refunded, replacement, cancelled_refunded], date(2026, 3, 1), date(2026, 3, 1))
    assert report.orders == 3  # the replacement is no order of its own
    assert report.revenue == {"CNY": "230.00"}  # 200 + 50 - 20; the cancelled one's total is already off
    assert report.refunded == {"CNY": "50.00"}
    (day,) = report.days
    assert (day.orders, day.sales, day.revenue, day.refunded) == (3, 2, {"CNY": "230.00"}, {"CNY": "50.00"})
