"""The return-shipping deadline: a case whose return was not shipped in time is closed."""

from __future__ import annotations

from datetime import datetime

from functions.aftersales.cases import (
    MAX_ROUNDS,
    CaseNotFoundError,
    close_case,
    get_case,
    resume,
)
from functions.aftersales.models import (
    CaseStatus,
)
from functions.core import clock, repository
from functions.core.observability import logger
from functions.core.repository import ReadAgain

# ---------------------------------------------------------------- the return-shipping deadline (timer)


def return_deadline_passed(case_id: str, now: datetime | None = None) -> bool:
    """The buyer did not ship the return in time: close the case (what it claimed is given back).
    Idempotent: a second firing, or one for a case that moved on, changes nothing. True when closed."""
    now = now or clock.now()

    def attempt() -> bool:
        try:
            case = get_case(case_id)
        except CaseNotFoundError:
            return False
        due = case.return_deadline
        if case.status != CaseStatus.AWAITING_RETURN or case.return_waybill is not None or due is None:
            if due is not None:
                repository.commit([repository.return_deadline_delete_item(case_id, due)])
            return False
        if now < due:
            return False
        closed = close_case(
            case,
            reason="return_not_shipped",
            extra=[repository.return_deadline_delete_item(case_id, due)],
        )
        if closed is not None:
            resume(closed)
            logger.info("case closed: return not shipped in time", extra={"case_id": case_id})
            return True
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS, gave_up=f"case {case_id} kept changing; retry")


def sweep_return_deadlines() -> list[str]:
    """What a lost schedule would have closed (rate rule)."""
    closed = []
    for _order_id, case_id in repository.due_return_deadlines(clock.now()):
        if return_deadline_passed(case_id):
            closed.append(case_id)
    return closed
