"""Allocate task of the order state machine."""

from __future__ import annotations

from typing import Any

from functions.allocate.service import allocate_order
from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.core.task import stage_task

get_settings()


@stage_task("allocate", StageInput)
def lambda_handler(event: StageInput) -> dict[str, Any]:
    result = allocate_order(event.order_id, event.execution_id)
    logger.info("allocation", extra={"outcome": result.outcome, "short": result.short})
    return result.model_dump(mode="json")
