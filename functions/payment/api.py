"""Route of the payment stage: the payment callback."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.core.api_errors import error_body
from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.observability import bind_order
from functions.core.settings import get_payment_scheduling_settings
from functions.payment.models import PaymentCallback
from functions.payment.service import AmountMismatchError, PaymentRefusedError, pay_order

get_payment_scheduling_settings()  # ingest schedules pay deadlines: fail the cold start if unconfigured
router = APIGatewayRouter()

OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="OMS order id")]


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@router.post("/orders/<order_id>/payment", summary="Payment callback for an unpaid order", tags=["payment"])
def post_payment(order_id: OrderIdPath, payment: PaymentCallback) -> Response[dict[str, Any]]:
    """Idempotent by payment_id. 200 when applied or recorded (or the same callback again); 409 when
    the order cannot take it (cancelled, closed, paid by another payment): it is flagged for refund."""
    bind_order(order_id)
    try:
        outcome = pay_order(order_id, payment, current_actor(router.current_event.headers))
    except AmountMismatchError as err:
        field = {"loc": ["body", "amount"], "field": "body.amount", "type": "amount_mismatch"}
        body = error_body("AMOUNT_MISMATCH", str(err), [{**field, "message": str(err)}])
        body["error"]["field"] = "amount"  # kept for callers written against the first version
        return _json(422, body)
    except PaymentRefusedError as err:
        body = error_body(err.code, str(err))
        body["error"]["refund_required"] = True
        return _json(409, body)
    return _json(200, outcome.model_dump(mode="json"))
