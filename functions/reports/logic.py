"""Sales aggregation (pure): orders in, per-day, per-platform and per-SKU figures out.

An order counts on the UTC day it was received (`created_at`). Orders counts every order received;
revenue only those that are still sales: not rejected, cancelled or failed. Money stays Decimal and is
kept per currency (a shop selling in CNY and USD gets two figures, never one meaningless sum).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from decimal import Decimal

from pydantic import BaseModel

from functions.core.models import Order
from functions.core.status import OrderStatus

NOT_SALES = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED})
Revenue = dict[str, str]  # currency -> amount, as a string with two decimals


class DaySales(BaseModel):
    day: date
    orders: int
    sales: int  # orders that count for revenue
    revenue: Revenue


class PlatformDaySales(DaySales):
    platform: str


class SkuSales(BaseModel):
    sku: str
    quantity: int
    orders: int
    revenue: Revenue


class SalesReport(BaseModel):
    start: date
    end: date  # inclusive
    orders: int
    sales: int
    revenue: Revenue
    days: list[DaySales]
    platforms: list[PlatformDaySales]
    top_skus: list[SkuSales]
    truncated: bool = False  # more orders matched than one report reads


class _Tally:
    def __init__(self) -> None:
        self.orders = 0
        self.sales = 0
        self.quantity = 0
        self.revenue: dict[str, Decimal] = defaultdict(Decimal)

    def revenue_strings(self) -> Revenue:
        return {c: str(v.quantize(Decimal("0.01"))) for c, v in sorted(self.revenue.items())}


def aggregate(
    orders: Iterable[Order], start: date, end: date, top: int = 10, truncated: bool = False
) -> SalesReport:
    """Figures for the days start..end (inclusive, UTC); days without orders are there with zeros."""
    if end < start:
        raise ValueError("end is before start")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    total = _Tally()
    by_day: dict[date, _Tally] = {d: _Tally() for d in days}
    by_platform: dict[tuple[str, date], _Tally] = defaultdict(_Tally)
    by_sku: dict[str, _Tally] = defaultdict(_Tally)
    for order in orders:
        day = order.created_at.astimezone(UTC).date()
        if day not in by_day:
            continue
        counts = order.status not in NOT_SALES
        currency = order.amounts.currency
        for tally in (total, by_day[day], by_platform[(order.platform, day)]):
            tally.orders += 1
            if counts:
                tally.sales += 1
                tally.revenue[currency] += order.amounts.total
        if counts:
            for line in order.lines:
                sku = by_sku[line.sku]
                sku.orders += 1
                sku.quantity += line.quantity
                sku.revenue[currency] += line.amount
    ranked = sorted(by_sku.items(), key=lambda item: (-item[1].quantity, item[0]))[:top]
    return SalesReport(
        start=start,
        end=end,
        orders=total.orders,
        sales=total.sales,
        revenue=total.revenue_strings(),
        days=[
            DaySales(day=d, orders=t.orders, sales=t.sales, revenue=t.revenue_strings())
            for d, t in by_day.items()
        ],
        platforms=[
            PlatformDaySales(platform=p, day=d, orders=t.orders, sales=t.sales, revenue=t.revenue_strings())
            for (p, d), t in sorted(by_platform.items())
        ],
        top_skus=[
            SkuSales(sku=s, quantity=t.quantity, orders=t.orders, revenue=t.revenue_strings())
            for s, t in ranked
        ],
        truncated=truncated,
    )
