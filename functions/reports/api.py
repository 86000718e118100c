"""GET /reports/sales: orders and revenue per day, per platform, and the top SKUs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.reports.logic import SalesReport
from functions.reports.service import MAX_DAYS, sales_report, today

router = APIGatewayRouter()


@router.get("/reports/sales", summary="Sales trend: per day, per platform, top SKUs", tags=["reports"])
def get_sales_report(
    start: Annotated[
        date | None,
        Query(alias="from", description="first day (report time zone), default 29 days before 'to'"),
    ] = None,
    end: Annotated[
        date | None, Query(alias="to", description="last day (inclusive, report time zone), default today")
    ] = None,
    platform: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="only this platform")
    ] = None,
    top: Annotated[int, Query(ge=1, le=100, description="how many SKUs to rank")] = 10,
    source: Annotated[
        Literal["aggregates", "orders"],
        Query(description="aggregates (default): the daily counters; orders: recount the orders (audit)"),
    ] = "aggregates",
) -> SalesReport:
    last = end or today()
    first = start or last - timedelta(days=29)
    if first > last:
        raise BadRequestError("'from' must not be after 'to'")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequestError(f"a report covers at most {MAX_DAYS} days")
    return sales_report(first, last, platform, top, source)
