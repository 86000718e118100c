"""AwaitPayment task of the order state machine (`lambda:invoke.waitForTaskToken`).

Parks an unpaid order with the execution's task token; the payment callback or the pay-deadline timer
resumes the execution later. If the outcome is already known (paid before parking, or parked after
the deadline), it resumes its own task at once.
"""

from __future__ import annotations

from typing import Any

from functions.core.observability import logger
from functions.core.settings import get_timer_settings
from functions.core.task import stage_task
from functions.payment.models import AwaitPaymentInput
from functions.payment.service import park_order

get_timer_settings()


@stage_task("payment", AwaitPaymentInput)
def lambda_handler(event: AwaitPaymentInput) -> dict[str, Any]:
    result = park_order(event.order_id, event.execution_id, event.task_token)
    logger.info("payment wait", extra={"outcome": result.outcome})
    return result.model_dump(mode="json")
