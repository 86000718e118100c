"""AfterSalesFunction: the tasks of the after-sales state machine (statemachine/aftersales.asl.json).

{"action": "advance", "case_id": ...}                         -> {"step", "wait_seconds", "status"}
{"action": "park", "case_id": ..., "step": ..., "task_token"} -> stores the token (waitForTaskToken)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.aftersales.cases import WAIT_STATUS
from functions.aftersales.execution import advance, park  # not service: people's actions stay unloaded
from functions.aftersales.models import CASE_ID_PATTERN, order_id_of_case
from functions.aftersales.settings import return_timer_settings
from functions.core.observability import bind_order, logger
from functions.core.task import stage_task

return_timer_settings()  # fail the cold start, not a case, on missing configuration


class CaseTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Literal["advance", "park"]
    case_id: str = Field(pattern=CASE_ID_PATTERN)
    execution_id: str | None = None
    step: str | None = None
    task_token: str | None = Field(default=None, min_length=1, max_length=8192)


@stage_task("aftersales", CaseTask)
def lambda_handler(event: CaseTask) -> dict[str, Any]:
    bind_order(order_id_of_case(event.case_id) or "", event.execution_id, case_id=event.case_id)
    if event.action == "park":
        if event.step not in WAIT_STATUS or event.task_token is None:
            raise ValueError(f"park needs a task token and one of {sorted(WAIT_STATUS)}")
        waiting = park(event.case_id, event.step, event.task_token)
        return {"waiting": waiting}
    result = advance(event.case_id)
    logger.info("case advanced", extra={"step": result.step, "status": result.status})
    return {"step": result.step, "wait_seconds": result.wait_seconds, "status": result.status}
