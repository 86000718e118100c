"""Ship task of the order state machine."""

from __future__ import annotations

from typing import Any

from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.core.task import stage_task
from functions.ship.service import ship_order

get_settings()


@stage_task("ship", StageInput)
def lambda_handler(event: StageInput) -> dict[str, Any]:
    result = ship_order(event.order_id, event.execution_id)
    logger.info("shipped", extra={"shipments": [s.shipment_id for s in result.shipments]})
    return result.model_dump(mode="json")
