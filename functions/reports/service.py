"""GET /reports/sales: read the orders received in the range (search index GSI2/GSI4), then aggregate.

Reads at most MAX_ORDERS orders per report and says so (`truncated`) when there were more: a shop past
that volume keeps daily aggregates instead (a stream consumer; not built yet, see docs/ops.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from functions.core import repository
from functions.core.models import Order
from functions.core.repository import OrderSearch
from functions.reports.logic import SalesReport, aggregate

MAX_ORDERS = 20_000
MAX_DAYS = 92
PAGE = 100


def sales_report(start: date, end: date, platform: str | None, top: int) -> SalesReport:
    search = OrderSearch(
        platform=platform,
        created_from=datetime.combine(start, time.min, UTC),
        created_to=datetime.combine(end + timedelta(days=1), time.min, UTC),
    )
    orders: list[Order] = []
    positions: dict[str, str | None] | None = None
    truncated = False
    while True:
        page = repository.search_orders(search, PAGE, positions)
        orders.extend(page.orders)
        if page.positions is None:
            break
        if len(orders) >= MAX_ORDERS:
            truncated = True
            break
        positions = page.positions
    return aggregate(orders, start, end, top, truncated)
