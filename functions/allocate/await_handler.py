"""AwaitStock task: park a backordered order on the waitlists of the SKUs it waits for.

Invoked with `.waitForTaskToken`: this handler stores the execution's token and returns; the task then
waits until a restock resumes it (PUT /inventory/{sku}) or its timeout (the backorder retry interval)
fires. Either way the state machine goes back to Allocate.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from functions.allocate.service import park_backorder
from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.core.task import stage_task

get_settings()


class AwaitStockInput(StageInput):
    task_token: str = Field(min_length=1, max_length=2048)


@stage_task("await_stock", AwaitStockInput)
def lambda_handler(event: AwaitStockInput) -> dict[str, Any]:
    waiting_for = park_backorder(event.order_id, event.task_token)
    logger.info("backorder parked", extra={"waiting_for": waiting_for})
    return {"waiting_for": waiting_for}
