"""Compensation for executions that ended without reaching the Compensate state.

Every stage's Catch routes to Compensate, but two endings bypass the state machine's own error handling:
an execution stopped by ops (StopExecution: status ABORTED, no Catch runs) or timed out, and an
execution whose Compensate task itself failed for good (status FAILED). An EventBridge rule on
"Step Functions Execution Status Change" for the order state machine (template.yaml,
ExecutionStoppedFunction) delivers those endings here, and the same compensation runs: reservations are
released and the order is FAILED with why. It is idempotent and conditional like every stage: an order
that already reached a final status (compensated, shipped, cancelled, rejected) is left as it is, and a
stage task still running when the execution was stopped loses its conditional write to this one.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.compensate.service import compensate_order
from functions.core.errors import OrderNotFoundError
from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.core.stage import StepError

get_settings()

ORDER_EXECUTION_NAME = ORDER_ID_PATTERN  # executions are named after their order


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    name: str
    status: Literal["FAILED", "TIMED_OUT", "ABORTED"]
    error: str | None = None
    cause: str | None = None


class ExecutionEndedEvent(EventBridgeModel):
    detail: ExecutionStatusChange


class StoppedResult(BaseModel):
    order_id: str | None
    status: str | None
    released: int = 0


_ERROR_BY_STATUS = {"ABORTED": "States.Aborted", "TIMED_OUT": "States.Timeout", "FAILED": "States.Failed"}


def compensate_ended_execution(change: ExecutionStatusChange) -> StoppedResult:
    if not re.match(ORDER_EXECUTION_NAME, change.name):
        return StoppedResult(order_id=None, status=None)
    bind_order(change.name, change.execution_arn)
    error = StepError.model_validate(
        {
            "Error": change.error or _ERROR_BY_STATUS[change.status],
            "Cause": change.cause or f"execution {change.status.lower()} outside the state machine's Catch",
        }
    )
    try:
        result = compensate_order(change.name, change.execution_arn, error)
    except OrderNotFoundError:
        return StoppedResult(order_id=change.name, status=None)
    return StoppedResult(order_id=change.name, status=result.status.value, released=len(result.released))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("execution_stopped")
@event_parser(model=ExecutionEndedEvent)
def lambda_handler(event: ExecutionEndedEvent, context: LambdaContext) -> dict[str, Any]:
    result = compensate_ended_execution(event.detail)
    logger.warning(
        "ended execution compensated",
        extra={
            "execution_status": event.detail.status,
            "order_status": result.status,
            "released": result.released,
        },
    )
    return result.model_dump(mode="json")
