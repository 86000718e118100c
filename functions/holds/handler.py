"""AwaitReview task (`lambda:invoke.waitForTaskToken`): store the token, then the execution waits."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from functions.core.observability import logger
from functions.core.settings import get_hold_scheduling_settings
from functions.core.stage import StageInput
from functions.core.task import stage_task
from functions.holds.service import await_review

get_hold_scheduling_settings()  # fail the cold start, not a hold, on missing timer configuration


class HoldInput(StageInput):
    task_token: str = Field(min_length=1, max_length=8192)


@stage_task("await_review", HoldInput)
def lambda_handler(event: HoldInput) -> dict[str, Any]:
    order = await_review(event.order_id, event.execution_id, event.task_token)
    reasons = [r.code for r in order.hold.reasons] if order.hold else []
    logger.info("waiting for a review decision", extra={"reasons": reasons})
    # Step Functions ignores this result: the state's output is what SendTaskSuccess sends.
    return {"waiting": True, "reasons": reasons}
