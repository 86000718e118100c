"""Intercepted task: the Catch target of OrderInterceptedError in every task of the order state machine."""

from __future__ import annotations

from typing import Any

from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.core.task import stage_task
from functions.intercept.service import apply_interception

get_settings()


@stage_task("intercept", StageInput)
def lambda_handler(event: StageInput) -> dict[str, Any]:
    result = apply_interception(event.order_id, event.execution_id)
    logger.info("intercepted", extra={"outcome": result.outcome, "released": result.released})
    return result.model_dump(mode="json")
