"""AwaitReview task (`lambda:invoke.waitForTaskToken`): store the token, then the execution waits."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_hold_scheduling_settings
from functions.core.stage import StageInput
from functions.holds.service import await_review

get_hold_scheduling_settings()  # fail the cold start, not a hold, on missing timer configuration


class HoldInput(StageInput):
    task_token: str = Field(min_length=1, max_length=8192)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("await_review")
@event_parser(model=HoldInput)
def lambda_handler(event: HoldInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    order = await_review(event.order_id, event.execution_id, event.task_token)
    reasons = [r.code for r in order.hold.reasons] if order.hold else []
    logger.info("waiting for a review decision", extra={"reasons": reasons})
    # Step Functions ignores this result: the state's output is what SendTaskSuccess sends.
    return {"waiting": True, "reasons": reasons}
