"""DelayCheckFunction: the rate schedule that flags shipments with no tracking progress within their SLA."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.logistics.service import sweep_delays

get_settings()


class ScheduledEvent(BaseModel):
    """EventBridge's scheduled event; nothing in it is needed (the check reads what is due now)."""

    model_config = ConfigDict(extra="ignore")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("delay_check")
@event_parser(model=ScheduledEvent)
def lambda_handler(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    swept = sweep_delays()
    if swept.due:
        logger.info(
            "delay check",
            extra={
                "due": swept.due,
                "flagged": len(swept.flagged),
                "skipped": swept.skipped,
                "errors": swept.errors,
            },
        )
    return swept.model_dump(mode="json")
