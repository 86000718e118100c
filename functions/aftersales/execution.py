"""The case's execution: `advance` does what the case's status calls for, until it has to wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from functions.aftersales import logic, timers
from functions.aftersales.cases import (
    MAX_ROUNDS,
    POLL_INTERCEPTION_SECONDS,
    POLL_REPLACEMENT_SECONDS,
    RULES_ACTOR,
    STAGE_ACTOR,
    WAIT_STATUS,
    apply_change,
    close_case,
    event_detail,
    get_case,
    issue_refund,
)
from functions.aftersales.models import (
    Case,
    CaseStatus,
)
from functions.core import application, clock, repository, workflow
from functions.core.errors import RefusedError
from functions.core.models.orders import Order
from functions.core.observability import logger
from functions.core.repository import ReadAgain, active_rules

# ---------------------------------------------------------------- the execution: advance and wait


@dataclass(frozen=True)
class Advanced:
    step: str  # await_decision | await_return | await_inspection | await_refund | poll | done
    wait_seconds: int = 0
    status: str = ""


def advance(case_id: str) -> Advanced:
    """Do what the case's status calls for, until it has to wait; say for what."""

    def attempt() -> Advanced:
        case = get_case(case_id)
        step = logic.next_step(case, case.assessed_at is not None)
        if step in WAIT_STATUS:
            return Advanced(step=step, status=case.status)
        if step == "done":
            return Advanced(step="done", status=case.status)
        waited = _STEPS[step](case)
        if waited is not None:
            return Advanced(step="poll", wait_seconds=waited, status=case.status)
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS * 3, gave_up=f"case {case_id} kept changing; retry")


def _assess(case: Case) -> int | None:
    rules = active_rules()
    order = repository.get_order(case.order_id)
    since = clock.now() - timedelta(days=rules.aftersales.good_standing_window_days)
    recent = repository.count_buyer_cases(order.platform, order.buyer.id, since, exclude=case.case_id)
    good, why = logic.in_good_standing(order, recent, rules.aftersales, rules.review)
    verdict = logic.assess(case, good, rules.aftersales)
    now = clock.now().isoformat()
    if verdict == "approve":
        why = (
            f"approved: ops resolved logistics exception {case.reference} with a refund"
            if case.opened_by.startswith(logic.DECIDED_BY_OPS)
            else f"auto-approved: worth {case.goods_value} < {rules.aftersales.auto_approve_below}; {why}"
        )
        apply_change(
            case,
            CaseStatus.APPROVED,
            actor=RULES_ACTOR,
            note=why,
            fields={
                "assessed_at": now,
                "assessment": why,
                "decision": "approved",
                "decided_by": RULES_ACTOR,
                "auto": True,
            },
            order_event="aftersales.approved",
            detail=event_detail(case, auto=True, rules_version=rules.version),
        )
    else:
        below = rules.aftersales.auto_approve_below
        why = f"for a person: worth {case.goods_value} (auto below {below}); {why}"
        apply_change(
            case,
            CaseStatus.REQUESTED,
            actor=RULES_ACTOR,
            note=why,
            fields={"assessed_at": now, "assessment": why},
        )
    return None


def _order_gone_or_shipped(case: Case, order: Order) -> bool:
    """Before-shipment refunds: the order will not ship (refund now) or shipped after all (refund as a
    refund-only after shipment: the case was approved for this money). True when the refund was issued."""
    if order.status in logic.ENDED_UNSHIPPED:
        issue_refund(case, note=f"order {order.status}: nothing will ship")
        return True
    if order.status in logic.SHIPPED:
        moved = apply_change(
            case,
            case.status,
            actor=STAGE_ACTOR,
            note="the order shipped before it could be intercepted: refund as refund-only after shipment",
            fields={"before_shipment": False},
        )
        if moved is not None:
            issue_refund(moved)
        return True
    return False


def _intercept(case: Case) -> int | None:
    order = repository.get_order(case.order_id)
    if _order_gone_or_shipped(case, order):
        return None
    _request_cancellation(case, order)
    apply_change(
        case,
        CaseStatus.INTERCEPTING,
        actor=STAGE_ACTOR,
        note="refund before shipment: the order's fulfilment is intercepted (cancel, stock released)",
    )
    return None


def _request_cancellation(case: Case, order: Order) -> None:
    from functions.intercept.logic import InterceptIn

    if order.interception is not None and order.interception.pending:
        return  # already being stopped (ours, resent, or someone else's)
    try:
        application.request_interception(
            order.order_id,
            InterceptIn(reason=f"after-sales refund {case.case_id}", action="cancel"),
            f"aftersales:{case.case_id}",
        )
    except RefusedError as refused:
        logger.info("interception refused", extra={"case_id": case.case_id, "code": refused.code})


def _await_cancellation(case: Case) -> int | None:
    order = repository.get_order(case.order_id)
    if _order_gone_or_shipped(case, order):
        return None
    _request_cancellation(case, order)  # a hold released meanwhile: ask again
    return POLL_INTERCEPTION_SECONDS


def _start_return(case: Case) -> int | None:
    due = clock.now() + timedelta(days=active_rules().aftersales.return_ship_days)
    moved = apply_change(
        case,
        CaseStatus.AWAITING_RETURN,
        actor=STAGE_ACTOR,
        note=f"the buyer ships the goods back by {due.isoformat()}",
        fields={"return_deadline": due.isoformat()},
        extra=[repository.return_deadline_put_item(case.order_id, case.case_id, due)],
    )
    if moved is not None:
        timers.schedule_return_deadline(case.case_id, due)
    return None


def _refund(case: Case) -> int | None:
    issue_refund(case)
    return None


def _replace(case: Case) -> int | None:
    from functions.core.replacement import ReplacementLine, create_replacement_order

    order = repository.get_order(case.order_id)
    lines = [
        ReplacementLine(sku=line.exchange_sku or line.sku, quantity=line.quantity) for line in case.lines
    ]
    replacement = create_replacement_order(order, lines, cause="exchange", cause_id=case.case_id)
    apply_change(
        case,
        CaseStatus.REPLACING,
        actor=STAGE_ACTOR,
        note=f"replacement order {replacement.order_id}",
        fields={"replacement_order_id": replacement.order_id},
        order_event="aftersales.replacement_created",
        detail=event_detail(case, replacement_order_id=replacement.order_id),
    )
    return None


def _await_replacement(case: Case) -> int | None:
    replacement = repository.get_order(str(case.replacement_order_id))
    if replacement.status in logic.SHIPPED:
        apply_change(
            case,
            CaseStatus.REPLACEMENT_SHIPPED,
            actor=STAGE_ACTOR,
            note=f"replacement {replacement.order_id} shipped",
        )
        return None
    if replacement.status in logic.ENDED_UNSHIPPED:  # e.g. the other size is out of stock: refund instead
        issue_refund(case, note=f"replacement {replacement.order_id} {replacement.status}: refunded instead")
        return None
    return POLL_REPLACEMENT_SECONDS


def _close_step(case: Case) -> int | None:
    close_case(case)
    return None


_STEPS = {
    "assess": _assess,
    "intercept": _intercept,
    "await_cancellation": _await_cancellation,
    "start_return": _start_return,
    "refund": _refund,
    "replace": _replace,
    "await_replacement": _await_replacement,
    "close": _close_step,
}


def park(case_id: str, step: str, token: str) -> bool:
    """Store the token the execution waits on while the case is still in the status of `step`; when it
    already moved on, resume at once. True when the execution waits."""
    expected = WAIT_STATUS[step]
    case = get_case(case_id)
    if case.status == expected and repository.set_case_wait_token(case.order_id, case_id, expected, token):
        return True
    workflow.send_task_success(token, {"status": get_case(case_id).status.value})
    return False
