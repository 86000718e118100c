"""AwaitPayment task of the order state machine (`lambda:invoke.waitForTaskToken`).

Parks an unpaid order with the execution's task token; the payment callback or the pay-deadline timer
resumes the execution later. If the outcome is already known (paid before parking, or parked after
the deadline), it resumes its own task at once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_timer_settings
from functions.payment.models import AwaitPaymentInput
from functions.payment.service import park_order

get_timer_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("payment")
@event_parser(model=AwaitPaymentInput)
def lambda_handler(event: AwaitPaymentInput, context: LambdaContext) -> dict[str, Any]:
    bind_order(event.order_id, event.execution_id)
    result = park_order(event.order_id, event.execution_id, event.task_token)
    logger.info("payment wait", extra={"outcome": result.outcome})
    return result.model_dump(mode="json")
