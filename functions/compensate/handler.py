"""Compensate task: the Catch target of every stage."""

from __future__ import annotations

from typing import Any

from functions.compensate.service import compensate_order
from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.stage import CompensateInput
from functions.core.task import stage_task

get_settings()


@stage_task("compensate", CompensateInput)
def lambda_handler(event: CompensateInput) -> dict[str, Any]:
    result = compensate_order(event.order_id, event.execution_id, event.error, event.stage)
    logger.warning("order compensated", extra={"error": event.error.error, "released": len(result.released)})
    return result.model_dump(mode="json")
