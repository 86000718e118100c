"""AfterSalesTimerFunction: a return deadline's one-time schedule ({"case_id": ...}), or the sweep."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.aftersales.models import CASE_ID_PATTERN, order_id_of_case
from functions.aftersales.service import return_deadline_passed, sweep_return_deadlines
from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.settings import get_timer_settings

get_timer_settings()


class TimerEvent(BaseModel):
    """The schedule's input, or EventBridge's scheduled event (no case id: sweep)."""

    model_config = ConfigDict(extra="ignore")

    case_id: str | None = Field(default=None, pattern=CASE_ID_PATTERN)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("aftersales_timer")
@event_parser(model=TimerEvent)
def lambda_handler(event: TimerEvent, context: LambdaContext) -> dict[str, Any]:
    if event.case_id is not None:
        bind_order(order_id_of_case(event.case_id) or "", case_id=event.case_id)
        closed = return_deadline_passed(event.case_id)
        logger.info("return deadline timer fired", extra={"closed": closed})
        return {"case_id": event.case_id, "closed": closed}
    swept = sweep_return_deadlines()
    if swept:
        logger.info("return deadline sweep", extra={"closed": len(swept)})
    return {"closed": swept}
