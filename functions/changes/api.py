"""Routes for changing an order after capture, before it ships (ops and the order's own platform)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.aftersales.models import RefundCallback
from functions.changes.line_service import change_lines
from functions.changes.lines import LinesChangeIn
from functions.changes.logic import REFERENCE, AddressChangeIn
from functions.changes.refunds import settle_change_refund
from functions.changes.service import change_address
from functions.changes.split import SplitIn, split_order
from functions.core.actor import current_actor
from functions.core.api_params import OrderIdPath
from functions.core.models.orders import Order
from functions.core.observability import bind_order

router = APIGatewayRouter()
ReferencePath = Annotated[str, Path(pattern=REFERENCE, description="the change's reference")]


def _change_answer(order: Order, reference: str, repeated: bool, **outcome: Any) -> dict[str, Any]:
    """What every change route answers: the order, the change's reference, whether it was a resend
    (`repeated`: answered again, nothing changed), and what the change kind adds."""
    return {
        "order_id": order.order_id,
        "status": order.status,
        "reference": reference,
        "repeated": repeated,
        **outcome,
    }


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
    return _change_answer(
        result.order,
        body.reference,
        result.repeated,
        review=result.review.model_dump(mode="json") if result.review else None,
        held=result.held,
    )


@router.post(
    "/orders/<order_id>/changes/lines",
    summary="Change line quantities, remove or add lines before shipment (exact refund, stock exact)",
    tags=["orders"],
)
def post_lines_change(order_id: OrderIdPath, body: LinesChangeIn) -> dict[str, Any]:
    """200 with the order's lines and total after the change, the refund owed (paid orders), the
    reserved units given back and those reserved more; every line at 0 cancels the order
    (`cancelled: true`, the refund is all that is left of the payment); `held` when more units tripped a
    review rule. 409 AFTER_SHIPMENT once shipped (use after-sales), ALREADY_FINAL, INTERCEPTED,
    AFTERSALES_OPEN, REFERENCE_REUSED, DISCOUNT_ABOVE_LINES, PAID_ORDER_INCREASE, OUT_OF_STOCK,
    REVIEW_REJECTED; 422 UNKNOWN_LINE, UNIT_PRICE, NOTHING_TO_CHANGE."""
    bind_order(order_id)
    result = change_lines(order_id, body, current_actor(router.current_event.headers))
    order, plan = result.order, result.plan
    return _change_answer(
        order,
        body.reference,
        result.repeated,
        cancelled=result.record.kind == "cancel",
        lines=[{"sku": line.sku, "quantity": line.quantity} for line in order.lines],
        total=str(order.amounts.total),
        refund=str(result.record.refund) if result.record.refund is not None else None,
        currency=order.amounts.currency,
        released=[r.model_dump() for r in plan.released] if plan is not None else None,
        reserved=[r.model_dump() for r in result.reserved],
        review=result.review.model_dump(mode="json") if result.review else None,
        held=result.held,
        execution_told=result.woken,
    )


@router.post(
    "/orders/<order_id>/changes/split",
    summary="Split an order by hand: move lines into a second shipment group (their own parcel)",
    tags=["orders"],
)
def post_split(order_id: OrderIdPath, body: SplitIn) -> dict[str, Any]:
    """200 with the group the lines moved into; the Ship step sends them in a parcel of their own. 409
    AFTER_SHIPMENT, ALREADY_FINAL, INTERCEPTED, NOT_ALLOCATED (no stock reserved yet), MERGED_ORDER,
    REFERENCE_REUSED; 422 UNKNOWN_LINE, VIRTUAL_LINE, NOTHING_LEFT."""
    bind_order(order_id)
    result = split_order(order_id, body, current_actor(router.current_event.headers))
    return _change_answer(result.order, body.reference, result.repeated, group=result.group)


@router.post(
    "/orders/<order_id>/changes/refunds/<reference>/callback",
    summary="Refund confirmation for a line change (payment provider)",
    tags=["orders"],
)
def post_change_refund_callback(
    order_id: OrderIdPath, reference: ReferencePath, body: RefundCallback
) -> dict[str, Any]:
    """The provider confirms the refund a line change owes: `requested` -> `refunded` with its reference,
    once; a repeat answers `applied: false`. 404 NOT_FOUND (no refund for that change), 422
    AMOUNT_MISMATCH (not the amount owed)."""
    bind_order(order_id)
    outcome = settle_change_refund(order_id, reference, body, current_actor(router.current_event.headers))
    return {
        "order_id": order_id,
        "reference": reference,
        "applied": outcome.applied,
        "refund": outcome.refund.model_dump(mode="json"),
    }
