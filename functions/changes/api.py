"""Routes for changing an order after capture, before it ships (ops and the order's own platform)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.changes.logic import AddressChangeIn
from functions.changes.service import change_address
from functions.core.actor import current_actor
from functions.core.api_params import OrderIdPath
from functions.core.observability import bind_order

router = APIGatewayRouter()


@router.post(
    "/orders/<order_id>/changes/address",
    summary="Change the shipping address before shipment (re-reviewed; idempotent by reference)",
    tags=["orders"],
)
def post_address_change(order_id: OrderIdPath, body: AddressChangeIn) -> dict[str, Any]:
    """200 with the order's status after the change; `held` when the new address tripped a review rule
    (the order goes to the review queue). 409 AFTER_SHIPMENT once shipped (use after-sales), ALREADY_FINAL,
    INTERCEPTED, REFERENCE_REUSED (the reference was used for another change)."""
    bind_order(order_id)
    result = change_address(order_id, body, current_actor(router.current_event.headers))
    return {
        "order_id": result.order.order_id,
        "status": result.order.status,
        "reference": body.reference,
        "repeated": result.repeated,
        "review": result.review.model_dump(mode="json") if result.review else None,
        "held": result.held,
    }
