"""Allocate task of the order state machine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.service import allocate_order
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import StageInput

get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("allocate")
@event_parser(model=StageInput)
def lambda_handler(event: StageInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    result = allocate_order(event.order_id, event.execution_id)
    logger.info("allocation", extra={"outcome": result.outcome, "short": result.short})
    return result.model_dump(mode="json")
