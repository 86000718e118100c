"""Review task of the order state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.review.service import review_order

get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("review")
@event_parser(model=StageInput)
def lambda_handler(event: StageInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    outcome = review_order(event.order_id, event.execution_id)
    logger.info("reviewed", extra={"decision": outcome.decision, "rules": [h.code for h in outcome.reasons]})
    return outcome.model_dump(mode="json")
