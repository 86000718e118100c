"""Route for ops stopping an order before it ships (buyer cancels, address change, suspected fraud)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.core.answers import bulk_answer, order_answer
from functions.core.api_params import OrderIdPath
from functions.core.observability import bind_order
from functions.intercept.logic import BulkInterceptIn, InterceptIn
from functions.intercept.service import request_interception, request_interceptions

router = APIGatewayRouter()


@router.post("/orders/<order_id>/intercept", summary="Intercept an order before it ships", tags=["orders"])
def post_intercept(order_id: OrderIdPath, body: InterceptIn) -> Response[dict[str, Any]]:
    """202: the order is flagged; its execution stops at the next safe point (at once if it waits on a
    hold). 409 AFTER_SALES once it has shipped, ALREADY_INTERCEPTED / ALREADY_FINAL otherwise."""
    bind_order(order_id)
    result = request_interception(order_id, body, current_actor(router.current_event.headers))
    answer = order_answer(
        result.order, "interception", created=result.created, wait_stopped=result.wait_stopped
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=answer)


@router.post(
    "/orders/interceptions",
    summary="Intercept up to 500 orders before they ship (a result per order)",
    tags=["orders"],
)
def post_interceptions(body: BulkInterceptIn) -> dict[str, Any]:
    """Each order as POST /orders/{id}/intercept would take it (its history records who and why);
    shipped, final and unknown orders come back refused / not_found, never left out."""
    actor = current_actor(router.current_event.headers)
    return bulk_answer(request_interceptions(body, actor), action=body.action, actor=actor)
