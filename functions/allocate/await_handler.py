"""AwaitStock task: park a backordered order on the waitlists of the SKUs it waits for.

Invoked with `.waitForTaskToken`: this handler stores the execution's token and returns; the task then
waits until a restock resumes it (PUT /inventory/{sku}) or its timeout (the backorder retry interval)
fires. Either way the state machine goes back to Allocate.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from functions.allocate.service import park_backorder
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import StageInput

get_settings()


class AwaitStockInput(StageInput):
    task_token: str = Field(min_length=1, max_length=2048)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("await_stock")
@event_parser(model=AwaitStockInput)
def lambda_handler(event: AwaitStockInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    waiting_for = park_backorder(event.order_id, event.task_token)
    logger.info("backorder parked", extra={"waiting_for": waiting_for})
    return {"waiting_for": waiting_for}
