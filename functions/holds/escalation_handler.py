"""HoldEscalationFunction: a hold's one-time escalation schedule ({"order_id": ...}), or the sweep rule."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.holds.service import escalate_hold, escalate_overdue_holds

get_settings()


class EscalationEvent(BaseModel):
    """The schedule's input, or EventBridge's scheduled event (no order id: sweep)."""

    model_config = ConfigDict(extra="ignore")

    order_id: str | None = Field(default=None, pattern=ORDER_ID_PATTERN)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("hold_escalation")
@event_parser(model=EscalationEvent)
def lambda_handler(event: EscalationEvent, context: LambdaContext) -> dict[str, Any]:
    if event.order_id is not None:
        bind_order(event.order_id)
        escalated = escalate_hold(event.order_id)
        logger.info("hold escalation timer fired", extra={"escalated": escalated})
        return {"order_id": event.order_id, "escalated": escalated}
    swept = escalate_overdue_holds()
    if swept:
        logger.info("hold escalation sweep", extra={"escalated": len(swept)})
    return {"escalated": swept}
