"""GET /reports/sales: read the daily pre-aggregates for the range (a handful of queries, no order scan).

The counters are kept by SalesAggregatorFunction from the table's stream (functions/reports/aggregator.py).
`source="orders"` recomputes the same report from the orders themselves (search index GSI2/GSI4), reading
at most MAX_ORDERS and saying so (`truncated`): an audit of the aggregates on small ranges.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from functions.core import clock, repository
from functions.core.models.orders import Order
from functions.core.repository import OrderSearch
from functions.core.settings import get_settings
from functions.reports.logic import AggregateRow, SalesReport, aggregate, report_from_aggregates

MAX_ORDERS = 20_000
MAX_DAYS = 92
PAGE = 100
# Counter rows one report reads per scope and shard (days x platforms x SKUs sold); past that the top
# SKUs are ranked over what was read and the report says `truncated`.
MAX_SKU_ROWS = 50_000

Source = Literal["aggregates", "orders"]


def sales_report(
    start: date, end: date, platform: str | None, top: int, source: Source = "aggregates"
) -> SalesReport:
    if source == "orders":
        return _from_orders(start, end, platform, top)
    settings = get_settings()
    shards = settings.sales_aggregate_shards
    first, last = start.isoformat(), end.isoformat()
    platforms, _ = repository.query_sales_counters("P", first, last, shards)
    skus, truncated = repository.query_sales_counters("S", first, last, shards, MAX_SKU_ROWS)
    rows = [AggregateRow("P", date.fromisoformat(day), name, values) for day, name, values in platforms]
    rows += [AggregateRow("S", date.fromisoformat(day), name, values) for day, name, values in skus]
    return report_from_aggregates(rows, start, end, platform, top, settings.report_timezone, truncated)


def _from_orders(start: date, end: date, platform: str | None, top: int) -> SalesReport:
    zone_name = get_settings().report_timezone
    zone = ZoneInfo(zone_name)
    search = OrderSearch(
        platform=platform,
        created_from=datetime.combine(start, time.min, zone),
        created_to=datetime.combine(end + timedelta(days=1), time.min, zone),
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
    return aggregate(orders, start, end, top, truncated, zone_name)


def today() -> date:
    """Today in the report zone (the default last day of a report)."""
    return clock.now().astimezone(ZoneInfo(get_settings().report_timezone)).date()
