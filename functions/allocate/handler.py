"""Allocate task of the order state machine."""

from __future__ import annotations

from typing import Any

from functions.allocate.service import AllocateInput, allocate_order
from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.task import stage_task

get_settings()


@stage_task("allocate", AllocateInput)
def lambda_handler(event: AllocateInput) -> dict[str, Any]:
    result = allocate_order(event.order_id, event.execution_id, event.review)
    logger.info("allocation", extra={"outcome": result.outcome, "short": result.short})
    return result.model_dump(mode="json")
