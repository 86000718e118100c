"""Route for ops stopping an order before it ships (buyer cancels, address change, suspected fraud)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.core.api_params import OrderIdPath
from functions.core.observability import bind_order
from functions.intercept.logic import InterceptIn
from functions.intercept.service import request_interception

router = APIGatewayRouter()


@router.post("/orders/<order_id>/intercept", summary="Intercept an order before it ships", tags=["orders"])
def post_intercept(order_id: OrderIdPath, body: InterceptIn) -> Response[dict[str, Any]]:
    """202: the order is flagged; its execution stops at the next safe point (at once if it waits on a
    hold). 409 AFTER_SALES once it has shipped, ALREADY_INTERCEPTED / ALREADY_FINAL otherwise."""
    bind_order(order_id)
    result = request_interception(order_id, body, current_actor(router.current_event.headers))
    order = result.order
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body={
            "order_id": order.order_id,
            "status": order.status,
            "interception": order.interception.model_dump(mode="json") if order.interception else None,
            "created": result.created,
            "wait_stopped": result.wait_stopped,
        },
    )
