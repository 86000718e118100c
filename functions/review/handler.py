"""Review task of the order state machine."""

from __future__ import annotations

from typing import Any

from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.core.task import stage_task
from functions.review.service import ReviewInput, review_order

get_settings()


@stage_task("review", ReviewInput)
def lambda_handler(event: ReviewInput) -> dict[str, Any]:
    outcome = review_order(event.order_id, event.execution_id, defer_approval=event.defer_approval)
    logger.info("reviewed", extra={"decision": outcome.decision, "rules": [h.code for h in outcome.reasons]})
    return outcome.model_dump(mode="json")
