"""AfterSalesTimerFunction: a return deadline's one-time schedule ({"case_id": ...}), or the sweep."""

from __future__ import annotations

from typing import Any

from functions.aftersales.deadlines import return_deadline_passed, sweep_return_deadlines
from functions.aftersales.models import CASE_ID_PATTERN, order_id_of_case
from functions.core.observability import bind_order
from functions.core.settings import get_timer_settings
from functions.core.timer_task import timer_task

get_timer_settings()


def _bind_case(case_id: str) -> None:
    bind_order(order_id_of_case(case_id) or "", case_id=case_id)


def _deadline_passed(case_id: str) -> dict[str, Any]:
    return {"case_id": case_id, "closed": return_deadline_passed(case_id)}


lambda_handler = timer_task(
    "aftersales_timer",
    "case_id",
    CASE_ID_PATTERN,
    fire=_deadline_passed,
    sweep=lambda: {"closed": sweep_return_deadlines()},
    bind=_bind_case,
)
