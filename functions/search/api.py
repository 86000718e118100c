"""GET /orders: search and list orders, newest first, one page at a time."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import AwareDatetime

from functions.core.pagination import InvalidTokenError
from functions.core.repository import OrderSearch
from functions.core.status import OrderStatus
from functions.search.service import OrderList, search_orders

router = APIGatewayRouter()


@router.get(
    "/orders",
    summary="Search orders by status, platform, buyer and creation time (newest first, paginated)",
    tags=["orders"],
)
def list_orders(
    status: Annotated[OrderStatus | None, Query(description="only orders in this status")] = None,
    platform: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="only this platform's orders")
    ] = None,
    buyer: Annotated[
        str | None, Query(min_length=1, max_length=128, description="only this buyer id's orders")
    ] = None,
    created_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="created at or after (ISO 8601 with zone)")
    ] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="created before (ISO 8601 with zone)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="orders examined per page")] = 20,
    next_token: Annotated[
        str | None, Query(max_length=8000, description="the next_token of the previous page")
    ] = None,
) -> OrderList:
    if created_from is not None and created_to is not None and created_from >= created_to:
        raise BadRequestError("'from' must be before 'to'")
    search = OrderSearch(
        status=status,
        platform=platform,
        buyer=buyer,
        created_from=created_from,
        created_to=created_to,
    )
    try:
        return search_orders(search, limit, next_token)
    except InvalidTokenError as err:
        raise BadRequestError(str(err)) from err
