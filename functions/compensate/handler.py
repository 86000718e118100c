"""Compensate task: the Catch target of every stage."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.compensate.service import compensate_order
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import CompensateInput

get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("compensate")
@event_parser(model=CompensateInput)
def lambda_handler(event: CompensateInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    result = compensate_order(event.order_id, event.execution_id, event.error, event.stage)
    logger.warning("order compensated", extra={"error": event.error.error, "released": len(result.released)})
    return result.model_dump(mode="json")
