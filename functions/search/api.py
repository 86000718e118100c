"""GET /orders: search and list orders, newest first, one page at a time; GET /orders/export: as CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AwareDatetime

from functions.core import clock, repository
from functions.core.actor import current_actor
from functions.core.auth.principals import Role
from functions.core.observability import logger
from functions.core.pagination import InvalidTokenError
from functions.core.repository import OrderSearch
from functions.core.security import current_principal
from functions.core.status import OrderStatus
from functions.search.export import MAX_EXPORT_ROWS, export_orders
from functions.search.service import OrderList, search_orders

router = APIGatewayRouter()

# The search filters, shared by the JSON list and the CSV export (one declaration, one validation).
StatusFilter = Annotated[OrderStatus | None, Query(description="only orders in this status")]
PlatformFilter = Annotated[
    str | None, Query(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="only this platform's orders")
]
BuyerFilter = Annotated[
    str | None, Query(min_length=1, max_length=128, description="only this buyer id's orders")
]
CreatedFrom = Annotated[
    AwareDatetime | None, Query(alias="from", description="created at or after (ISO 8601 with zone)")
]
CreatedTo = Annotated[
    AwareDatetime | None, Query(alias="to", description="created before (ISO 8601 with zone)")
]


def _search(
    status: OrderStatus | None,
    platform: str | None,
    buyer: str | None,
    created_from: AwareDatetime | None,
    created_to: AwareDatetime | None,
) -> OrderSearch:
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise BadRequestError("'from' must be before 'to'")
    return OrderSearch(
        status=status, platform=platform, buyer=buyer, created_from=created_from, created_to=created_to
    )


@router.get(
    "/orders",
    summary="Search orders by status, platform, buyer and creation time (newest first, paginated)",
    tags=["orders"],
)
def list_orders(
    status: StatusFilter = None,
    platform: PlatformFilter = None,
    buyer: BuyerFilter = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    limit: Annotated[int, Query(ge=1, le=100, description="orders examined per page")] = 20,
    next_token: Annotated[
        str | None, Query(max_length=8000, description="the next_token of the previous page")
    ] = None,
) -> OrderList:
    search = _search(status, platform, buyer, created_from, created_to)
    try:
        return search_orders(search, limit, next_token)
    except InvalidTokenError as err:
        raise BadRequestError(str(err)) from err


@router.get(
    "/orders/export",
    summary="Any order search as CSV (newest first, up to max_rows; personal data masked for viewers)",
    tags=["orders"],
)
def export(
    status: StatusFilter = None,
    platform: PlatformFilter = None,
    buyer: BuyerFilter = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    max_rows: Annotated[
        int, Query(ge=1, le=MAX_EXPORT_ROWS, description=f"row cap (at most {MAX_EXPORT_ROWS})")
    ] = 5000,
) -> Response[str]:
    search = _search(status, platform, buyer, created_from, created_to)
    principal = current_principal()
    done = export_orders(search, max_rows, masked=principal.role == Role.VIEWER)
    # The audit line and record: who exported how much of what (filters as codes, never personal data).
    actor = current_actor(router.current_event.headers)
    repository.record_audit(
        "orders.export",
        actor,
        rows=done.rows,
        detail={
            "status": status,
            "platform": platform,
            "buyer_filtered": buyer is not None,
            "from": created_from.isoformat() if created_from else None,
            "to": created_to.isoformat() if created_to else None,
            "max_rows": max_rows,
            "truncated": done.truncated,
            "masked": principal.role == Role.VIEWER,
        },
    )
    logger.info(
        "orders exported",
        extra={
            "actor": actor,
            "rows": done.rows,
            "truncated": done.truncated,
            "filter_status": status,
            "filter_platform": platform,
        },
    )
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=done.body,
        headers={
            "Content-Disposition": 'attachment; filename="orders.csv"',
            "X-Export-Rows": str(done.rows),
            "X-Export-Truncated": "true" if done.truncated else "false",
        },
    )


@router.get(
    "/audit",
    summary="Audit trail of bulk work on one UTC day: order exports and stock imports (who, rows, filter)",
    tags=["admin"],
)
def audit(
    day: Annotated[date | None, Query(description="the UTC day (default: today)")] = None,
    kind: Annotated[
        Literal["orders.export", "inventory.import"] | None, Query(description="only this kind")
    ] = None,
) -> dict[str, Any]:
    wanted = day or clock.now().date()
    return {"day": wanted.isoformat(), "records": repository.audit_records(wanted, kind)}
