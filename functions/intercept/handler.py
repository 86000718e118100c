"""Intercepted task: the Catch target of OrderInterceptedError in every task of the order state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.intercept.service import apply_interception

get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("intercept")
@event_parser(model=StageInput)
def lambda_handler(event: StageInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    result = apply_interception(event.order_id, event.execution_id)
    logger.info("intercepted", extra={"outcome": result.outcome, "released": result.released})
    return result.model_dump(mode="json")
