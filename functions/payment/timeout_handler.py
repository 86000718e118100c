"""The pay-deadline timer: one-time schedules ({"order_id": ...}) and the rate(1 minute) sweep rule.

Both end in the same conditional writes (service.expire_order), so a schedule that fires twice, or
fires while the sweep handles the same order, changes the order once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_timer_settings
from functions.payment.models import TimerEvent
from functions.payment.service import expire_order, sweep

get_timer_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("payment_timer")
@event_parser(model=TimerEvent)
def lambda_handler(event: TimerEvent, context: LambdaContext) -> dict[str, Any]:
    if event.order_id is not None:
        bind_order(event.order_id)
        result = expire_order(event.order_id, "timer:schedule")
        logger.info("payment timer fired", extra={"action": result.action})
        return result.model_dump(mode="json")
    swept = sweep()
    if swept.due:
        logger.info(
            "payment sweep", extra={"due": swept.due, "actions": swept.actions, "errors": swept.errors}
        )
    return swept.model_dump(mode="json")
