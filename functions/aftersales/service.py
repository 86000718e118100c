"""After-sales cases: open, decide, return, inspect, refund, exchange, close (docs/aftersales.md).

Each case runs its own execution of the after-sales state machine (statemachine/aftersales.asl.json),
named after the case. The execution loops on one task, `advance`, which does what the case's status
calls for (logic.next_step) and answers which wait comes next: a person's decision, the return, the
inspection, the refund callback (task tokens), or a poll (the order being intercepted, the replacement
order shipping). People and callbacks change the case through the API with a conditional write, then
resume the execution with the token stored beside the case.

Money: opening a case claims the lines' money and units on per-line counters (conditional updates, so
two cases can never claim more than was paid); closing gives back what was not used; the refund is one
item whose id comes from the case, put once and settled once, whoever calls back how often.
Order history: aftersales.requested / approved / rejected / return_received / inspected /
replacement_created / closed and order.refunded are appended to the ORDER's history in the same
transaction as the case change (the events helper publishes them); the order keeps its fulfilment
status and carries a refund summary.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from functions.aftersales import logic, timers
from functions.aftersales.models import (
    Case,
    CaseEvent,
    CaseIn,
    CaseStatus,
    Inspection,
    Received,
    RefundCallback,
    ReturnShipped,
    case_id_for,
    case_id_of_refund,
    order_id_of_case,
    refund_id_for,
)
from functions.aftersales.settings import case_workflow_settings
from functions.core import aws, clock, repository, workflow
from functions.core.errors import OrderNotFoundError, RefusedError, TransientError
from functions.core.models import Order, RefundSummary
from functions.core.observability import MetricName, count, logger
from functions.core.repository import TransactionRejected, TransactItem
from functions.core.rules import active_rules

MAX_ROUNDS = 6
RULES_ACTOR = "rules:aftersales"
STAGE_ACTOR = "stage:aftersales"
POLL_INTERCEPTION_SECONDS = 10
POLL_REPLACEMENT_SECONDS = 300
# The status a case waits in for each wait of its execution (the token is stored only while it is so).
WAIT_STATUS: dict[str, CaseStatus] = {
    "await_decision": CaseStatus.REQUESTED,
    "await_return": CaseStatus.AWAITING_RETURN,
    "await_inspection": CaseStatus.RECEIVED,
    "await_refund": CaseStatus.REFUND_PENDING,
}


class CaseNotFoundError(OrderNotFoundError):
    """No such case (the API answers 404)."""


# ---------------------------------------------------------------- reading


def _parse(raw: dict[str, Any]) -> Case:
    return Case.model_validate(raw)


def get_case(case_id: str) -> Case:
    order_id = order_id_of_case(case_id)
    raw = repository.get_case(order_id, case_id) if order_id else None
    if raw is None:
        raise CaseNotFoundError(f"case {case_id}")
    return _parse(raw)


def list_cases(order_id: str) -> list[Case]:
    repository.get_order(order_id)  # 404 for an unknown order
    return sorted((_parse(raw) for raw in repository.list_cases(order_id)), key=lambda c: c.opened_at)


def execution_arn_of(case_id: str) -> str:
    arn = case_workflow_settings().aftersales_state_machine_arn
    return arn.replace(":stateMachine:", ":execution:") + f":{case_id}"


# ---------------------------------------------------------------- one change of a case


def _event_detail(case: Case, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "kind": case.kind,
        "amount": str(case.amount),
        "currency": case.currency,
        "lines": [
            {"sku": line.sku, "quantity": line.quantity, "amount": str(line.amount)} for line in case.lines
        ],
        **extra,
    }


def _apply(
    case: Case,
    status: CaseStatus,
    *,
    actor: str,
    note: str | None = None,
    fields: dict[str, Any] | None = None,
    order_event: str | None = None,
    detail: dict[str, Any] | None = None,
    order_fields: Callable[[Order], dict[str, Any]] | None = None,
    extra: list[TransactItem] | None = None,
    remove: tuple[str, ...] = (),
) -> Case | None:
    """Change the case (conditional on the version it was read at), with `extra` items and, with
    `order_event`, a history event on the order, all in one transaction. None: the case or the order
    moved meanwhile (read again, decide again). TransactionRejected: one of `extra` failed (its index)."""
    now = clock.now()
    timeline = [*case.timeline, CaseEvent(at=now, status=status, actor=actor, note=note)]
    changes = {
        "status": status.value,
        "updated_at": now.isoformat(),
        "timeline": [event.model_dump(mode="json") for event in timeline],
        **(fields or {}),
    }
    item = repository.case_update_item(case.order_id, case.case_id, case.version, changes, remove)
    extra = extra or []
    if order_event is None:
        try:
            repository.write_items([item, *extra])
        except TransactionRejected as rejected:
            if 0 in rejected.failed_indexes:
                return None
            raise TransactionRejected([i - 1 for i in rejected.failed_indexes], rejected.codes) from rejected
    else:
        order = repository.get_order(case.order_id)
        try:
            annotated = repository.annotate(
                order,
                event_type=order_event,
                actor=actor,
                detail=detail or _event_detail(case),
                set_fields=order_fields(order) if order_fields is not None else {},
                extra_items=[item, *extra],
            )
        except TransactionRejected as rejected:
            if 0 in rejected.failed_indexes:
                return None
            raise TransactionRejected([i - 1 for i in rejected.failed_indexes], rejected.codes) from rejected
        if annotated is None:
            return None
    data = case.model_dump(mode="json")
    for name in remove:
        data.pop(name, None)
    data.update(changes)
    data["version"] = case.version + 1
    return _parse(data)


def _resume(case: Case, output: dict[str, Any] | None = None) -> bool:
    """Tell the case's execution it may go on (if it waits on a token)."""
    token = repository.take_case_wait_token(case.order_id, case.case_id)
    if token is None:
        return False
    return workflow.send_task_success(token, output or {"status": case.status.value})


# ---------------------------------------------------------------- open


def open_case(order_id: str, case: CaseIn, actor: str) -> Case:
    """Open an after-sales case on an order and start its execution (idempotent on `case.reference`).

    The entry point for the API and for other stages (a logistics exception resolved with a refund).
    RefusedError when the order or the lines cannot take it (nothing written).
    """
    return _open(order_id, case, actor)[0]


def open_case_request(order_id: str, case: CaseIn, actor: str) -> tuple[Case, bool]:
    """(the case, whether this call created it)."""
    return _open(order_id, case, actor)


def _open(order_id: str, request: CaseIn, actor: str) -> tuple[Case, bool]:
    case_id = case_id_for(order_id, request.reference)
    rules = active_rules().aftersales
    for _ in range(MAX_ROUNDS):
        existing = repository.get_case(order_id, case_id) if request.reference else None
        if existing is not None:
            found = _parse(existing)
            if found.kind != request.kind:
                raise RefusedError(
                    "CONFLICT", f"case reference {request.reference} was opened as a {found.kind} case", 409
                )
            _start(found)
            return found, False
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        counters = repository.line_counters(order_id)
        now = clock.now()
        lines = logic.plan_lines(order, aggregate.shipments, request, counters, now, rules)
        before = order.status not in logic.SHIPPED
        goods_value = sum((line.amount for line in lines), logic.ZERO)
        case = Case(
            case_id=case_id,
            order_id=order_id,
            platform=order.platform,
            buyer_id=order.buyer.id,
            kind=request.kind,
            status=CaseStatus.REQUESTED,
            reason=request.reason,
            description=request.description,
            evidence=list(request.evidence),
            reference=request.reference,
            lines=lines,
            whole_order=request.lines is None,
            amount=logic.ZERO if request.kind == "exchange" else goods_value,
            goods_value=goods_value,
            currency=order.amounts.currency,
            before_shipment=before,
            return_required=logic.return_required(request.kind, before, lines, goods_value, rules),
            opened_by=actor,
            opened_at=now,
            updated_at=now,
            timeline=[CaseEvent(at=now, status=CaseStatus.REQUESTED, actor=actor, note=request.reason)],
        )
        paid = logic.paid_per_line(order)
        by_sku = {line.sku: line for line in order.lines}
        commits = []
        for line in lines:
            state = logic.LineState.of(paid[line.sku], by_sku[line.sku].quantity, counters.get(line.sku))
            commits.append(
                repository.line_commit_item(
                    order_id,
                    line.sku,
                    paid=state.paid,
                    quantity=state.quantity,
                    amount=line.amount,
                    units=line.quantity,
                    exact_from=(state.committed, state.committed_qty) if line.exact else None,
                )
            )
        extra = [
            repository.case_put_item(case.model_dump(mode="json", exclude_none=True)),
            repository.buyer_case_item(order.platform, order.buyer.id, case_id, now),
            *commits,
        ]
        try:
            stored = repository.annotate(
                order,
                event_type="aftersales.requested",
                actor=actor,
                detail=_event_detail(case, reason=request.reason, opened_by=actor),
                set_fields={},
                extra_items=extra,
            )
        except TransactionRejected as rejected:
            if 0 in rejected.failed_indexes and request.reference:
                continue  # the same reference was opened concurrently: return that case
            if 0 in rejected.failed_indexes:
                case_id = case_id_for(order_id, None)  # a random id collided: draw again
            continue  # a line counter moved (another case claimed): plan again on what is left
        if stored is None:
            continue  # the order moved: read it again
        count(MetricName.AFTERSALES_CASES_OPENED, order.platform, action=request.kind)
        logger.info("after-sales case opened", extra={"case_id": case_id, "kind": request.kind})
        _start(case)
        return case, True
    raise TransientError(f"order {order_id} kept changing while the case was opened; retry")


def _start(case: Case) -> str:
    """The case's execution, named after it (a second start is a no-op)."""
    try:
        response = aws.stepfunctions().start_execution(
            stateMachineArn=case_workflow_settings().aftersales_state_machine_arn,
            name=case.case_id,
            input=json.dumps({"case_id": case.case_id, "order_id": case.order_id}),
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code == "ExecutionAlreadyExists":
            return execution_arn_of(case.case_id)
        if code in {"ThrottlingException", "ServiceUnavailable", "InternalFailure"}:
            raise TransientError(f"Step Functions {code}: open the case again (same reference)") from err
        raise
    return response["executionArn"]


# ---------------------------------------------------------------- the execution: advance and wait


@dataclass(frozen=True)
class Advanced:
    step: str  # await_decision | await_return | await_inspection | await_refund | poll | done
    wait_seconds: int = 0
    status: str = ""


def advance(case_id: str) -> Advanced:
    """Do what the case's status calls for, until it has to wait; say for what."""
    for _ in range(MAX_ROUNDS * 3):
        case = get_case(case_id)
        step = logic.next_step(case, case.assessed_at is not None)
        if step in WAIT_STATUS:
            return Advanced(step=step, status=case.status)
        if step == "done":
            return Advanced(step="done", status=case.status)
        waited = _STEPS[step](case)
        if waited is not None:
            return Advanced(step="poll", wait_seconds=waited, status=case.status)
    raise TransientError(f"case {case_id} kept changing; retry")


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
        _apply(
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
            detail=_event_detail(case, auto=True, rules_version=rules.version),
        )
    else:
        below = rules.aftersales.auto_approve_below
        why = f"for a person: worth {case.goods_value} (auto below {below}); {why}"
        _apply(
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
        _issue_refund(case, note=f"order {order.status}: nothing will ship")
        return True
    if order.status in logic.SHIPPED:
        moved = _apply(
            case,
            case.status,
            actor=STAGE_ACTOR,
            note="the order shipped before it could be intercepted: refund as refund-only after shipment",
            fields={"before_shipment": False},
        )
        if moved is not None:
            _issue_refund(moved)
        return True
    return False


def _intercept(case: Case) -> int | None:
    order = repository.get_order(case.order_id)
    if _order_gone_or_shipped(case, order):
        return None
    _request_cancellation(case, order)
    _apply(
        case,
        CaseStatus.INTERCEPTING,
        actor=STAGE_ACTOR,
        note="refund before shipment: the order's fulfilment is intercepted (cancel, stock released)",
    )
    return None


def _request_cancellation(case: Case, order: Order) -> None:
    from functions.intercept.logic import InterceptIn
    from functions.intercept.service import request_interception

    if order.interception is not None and order.interception.pending:
        return  # already being stopped (ours, resent, or someone else's)
    try:
        request_interception(
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
    moved = _apply(
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


def _issue_refund(case: Case, note: str | None = None) -> None:
    """The refund is one item whose id comes from the case: requested once, whoever asks again."""
    refund_id = refund_id_for(case.case_id)
    amount = case.amount if case.kind != "exchange" else case.goods_value
    doc = {
        "refund_id": refund_id,
        "case_id": case.case_id,
        "order_id": case.order_id,
        "amount": str(amount),
        "currency": case.currency,
        "lines": [{"sku": line.sku, "amount": str(line.amount)} for line in case.lines],
        "status": "requested",
        "requested_at": clock.now().isoformat(),
    }
    try:
        moved = _apply(
            case,
            CaseStatus.REFUND_PENDING,
            actor=STAGE_ACTOR,
            note=note
            or f"refund {refund_id} of {amount} {case.currency} requested from the payment provider",
            fields={"refund_id": refund_id, "amount": str(amount)},
            extra=[repository.refund_put_item(case.order_id, refund_id, doc)],
        )
    except TransactionRejected:
        return  # issued before (the same case, re-read next round)
    if moved is not None:
        count(MetricName.REFUNDS_ISSUED, moved.platform, action=moved.kind)
        logger.info("refund issued", extra={"case_id": case.case_id, "refund_id": refund_id})


def _refund(case: Case) -> int | None:
    _issue_refund(case)
    return None


def _replace(case: Case) -> int | None:
    from functions.core.replacement import ReplacementLine, create_replacement_order

    order = repository.get_order(case.order_id)
    lines = [
        ReplacementLine(sku=line.exchange_sku or line.sku, quantity=line.quantity) for line in case.lines
    ]
    replacement = create_replacement_order(order, lines, cause="exchange", cause_id=case.case_id)
    _apply(
        case,
        CaseStatus.REPLACING,
        actor=STAGE_ACTOR,
        note=f"replacement order {replacement.order_id}",
        fields={"replacement_order_id": replacement.order_id},
        order_event="aftersales.replacement_created",
        detail=_event_detail(case, replacement_order_id=replacement.order_id),
    )
    return None


def _await_replacement(case: Case) -> int | None:
    replacement = repository.get_order(str(case.replacement_order_id))
    if replacement.status in logic.SHIPPED:
        _apply(
            case,
            CaseStatus.REPLACEMENT_SHIPPED,
            actor=STAGE_ACTOR,
            note=f"replacement {replacement.order_id} shipped",
        )
        return None
    if replacement.status in logic.ENDED_UNSHIPPED:  # e.g. the other size is out of stock: refund instead
        _issue_refund(case, note=f"replacement {replacement.order_id} {replacement.status}: refunded instead")
        return None
    return POLL_REPLACEMENT_SECONDS


def _close(case: Case, reason: str | None = None, extra: list[TransactItem] | None = None) -> Case | None:
    reason = reason or {
        CaseStatus.REJECTED: "rejected",
        CaseStatus.REFUNDED: "refunded",
        CaseStatus.REPLACEMENT_SHIPPED: "exchanged",
    }.get(case.status, "closed")
    releases = [
        repository.line_release_item(case.order_id, sku, amount, units)
        for sku, amount, units in logic.settlement(case)
        if amount or units
    ]
    return _apply(
        case,
        CaseStatus.CLOSED,
        actor=STAGE_ACTOR,
        note=reason,
        fields={"closed_reason": reason, "closed_at": clock.now().isoformat()},
        order_event="aftersales.closed",
        detail=_event_detail(case, reason=reason, released=bool(releases)),
        extra=[*releases, *(extra or [])],
    )


def _close_step(case: Case) -> int | None:
    _close(case)
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


# ---------------------------------------------------------------- people and callbacks (API)


def decide(case_id: str, decision: Literal["approve", "reject"], comment: str, actor: str) -> Case:
    for _ in range(MAX_ROUNDS):
        case = get_case(case_id)
        if (
            case.decision == ("approved" if decision == "approve" else "rejected")
            and case.decided_by == actor
        ):
            return case  # a resent decision
        refused = logic.refusal(case, "decide")
        if refused is not None:
            raise refused
        status = CaseStatus.APPROVED if decision == "approve" else CaseStatus.REJECTED
        moved = _apply(
            case,
            status,
            actor=actor,
            note=comment or None,
            fields={
                "decision": "approved" if decision == "approve" else "rejected",
                "decided_by": actor,
                "auto": False,
                "decision_comment": comment,
                "assessed_at": (case.assessed_at or clock.now()).isoformat(),
            },
            order_event=f"aftersales.{'approved' if decision == 'approve' else 'rejected'}",
            detail=_event_detail(case, auto=False, comment=comment),
        )
        if moved is not None:
            _resume(moved)
            return moved
    raise TransientError(f"case {case_id} kept changing; retry")


def return_shipped(case_id: str, body: ReturnShipped, actor: str) -> Case:
    for _ in range(MAX_ROUNDS):
        case = get_case(case_id)
        if case.return_waybill == body.waybill:
            return case
        refused = logic.refusal(case, "return_shipped")
        if refused is not None:
            raise refused
        extra = []
        if case.return_deadline is not None:
            extra.append(repository.return_deadline_delete_item(case.case_id, case.return_deadline))
        moved = _apply(
            case,
            case.status,
            actor=actor,
            note=f"return shipped with {body.carrier} {body.waybill}",
            fields={
                "return_waybill": body.waybill,
                "return_carrier": body.carrier,
                "return_shipped_at": clock.now().isoformat(),
            },
            extra=extra,
        )
        if moved is not None:
            timers.delete_return_deadline(case_id)
            return moved
    raise TransientError(f"case {case_id} kept changing; retry")


def receive(case_id: str, body: Received, actor: str) -> Case:
    for _ in range(MAX_ROUNDS):
        case = get_case(case_id)
        if case.status == CaseStatus.RECEIVED or case.received_at is not None:
            return case
        refused = logic.refusal(case, "received")
        if refused is not None:
            raise refused
        extra = []
        if case.return_deadline is not None:
            extra.append(repository.return_deadline_delete_item(case.case_id, case.return_deadline))
        moved = _apply(
            case,
            CaseStatus.RECEIVED,
            actor=actor,
            note=body.note,
            fields={"received_at": clock.now().isoformat()},
            order_event="aftersales.return_received",
            detail=_event_detail(case, waybill=case.return_waybill),
            extra=extra,
        )
        if moved is not None:
            timers.delete_return_deadline(case_id)
            _resume(moved)
            return moved
    raise TransientError(f"case {case_id} kept changing; retry")


def inspect(case_id: str, body: Inspection, actor: str) -> Case:
    """Resellable: the units go back on sale in the warehouse they shipped from (ledger `returned`);
    damaged: written off (ledger `writeoff`, stock unchanged). One transaction with the case change."""
    for _ in range(MAX_ROUNDS):
        case = get_case(case_id)
        if case.inspection is not None:
            if case.inspection != body.result:
                raise RefusedError("ALREADY_INSPECTED", f"case {case_id} was inspected: {case.inspection}")
            return case
        refused = logic.refusal(case, "inspect")
        if refused is not None:
            raise refused
        counters = repository.line_counters(case.order_id)
        extra: list[TransactItem] = []
        moved_skus: list[str] = []
        for line in case.lines:
            if not line.warehouses:
                continue
            returned = int(counters.get(line.sku, {}).get("returned", 0))
            extra.append(repository.line_return_item(case.order_id, line.sku, line.quantity, returned))
            for warehouse, units in line.warehouses:
                if body.result == "resellable":
                    extra += repository.return_to_stock_items(line.sku, warehouse, units, case.case_id)
                    moved_skus.append(line.sku)
                else:
                    extra.append(repository.writeoff_item(line.sku, warehouse, units, case.case_id))
        try:
            moved = _apply(
                case,
                CaseStatus.INSPECTED,
                actor=actor,
                note=body.note or body.result,
                fields={"inspection": body.result},
                order_event="aftersales.inspected",
                detail=_event_detail(case, result=body.result),
                extra=extra,
            )
        except TransactionRejected:
            continue  # a line's return count moved (another case's inspection): read again
        if moved is not None:
            _wake_backorders(moved_skus)
            _resume(moved)
            return moved
    raise TransientError(f"case {case_id} kept changing; retry")


def _wake_backorders(skus: list[str]) -> None:
    from functions.allocate.inventory import wake_backorders

    for sku in dict.fromkeys(skus):
        try:
            wake_backorders(sku)
        except ClientError as err:  # the orders' own retry timers wake them later anyway
            logger.warning(
                "could not wake backorders", extra={"error_code": err.response.get("Error", {}).get("Code")}
            )


def _with_refund(current: Order, *, amount: Decimal, at: datetime) -> dict[str, Any]:
    """The order's refund summary with `amount` added, from the order as the transaction reads it
    (the write is conditional on that order's version, so concurrent refunds never lose one)."""
    before = current.refund_summary
    refunded = (before.refunded if before else logic.ZERO) + amount
    summary = RefundSummary(
        refunded=refunded,
        currency=current.amounts.currency,
        refunds=(before.refunds if before else 0) + 1,
        last_refund_at=at,
        full=refunded >= logic.paid_total(current),
    )
    return {"refund_summary": summary.model_dump(mode="json")}


@dataclass(frozen=True)
class RefundOutcome:
    case: Case
    applied: bool  # False: this refund was confirmed before (a repeated callback)


def settle_refund(refund_id: str, body: RefundCallback, actor: str) -> RefundOutcome:
    """The provider confirms a refund. Applied once: the refund item moves requested -> succeeded in
    the same transaction as the line counters, the case (REFUNDED) and the order's history
    (order.refunded) and refund summary; a repeated callback changes nothing."""
    case_id = case_id_of_refund(refund_id)
    if case_id is None:
        raise CaseNotFoundError(f"refund {refund_id}")
    for _ in range(MAX_ROUNDS):
        case = get_case(case_id)
        refund = repository.get_refund(case.order_id, refund_id)
        if refund is None:
            raise CaseNotFoundError(f"refund {refund_id}")
        amount = Decimal(str(refund["amount"]))
        if body.amount != amount:
            raise RefusedError(
                "AMOUNT_MISMATCH", f"refund {refund_id} is for {amount}, not {body.amount}", 422
            )
        if refund["status"] == "succeeded":
            if case.status == CaseStatus.REFUND_PENDING:
                _resume(case)
            return RefundOutcome(case, applied=False)
        order = repository.get_order(case.order_id)
        paid = logic.paid_per_line(order)
        now = clock.now()

        summary = functools.partial(_with_refund, amount=amount, at=now)
        extra = [
            repository.refund_settle_item(
                case.order_id,
                refund_id,
                {
                    "settled_at": now.isoformat(),
                    "provider_reference": body.provider_reference or "",
                    "by": actor,
                },
            ),
            *[
                repository.line_refund_item(case.order_id, line.sku, line.amount, paid[line.sku])
                for line in case.lines
                if line.amount
            ],
        ]
        try:
            moved = _apply(
                case,
                CaseStatus.REFUNDED,
                actor=actor,
                note=f"refund {refund_id} confirmed",
                fields={"refunded_at": now.isoformat()},
                order_event="order.refunded",
                detail=_event_detail(case, refund_id=refund_id, amount=str(amount)),
                order_fields=summary,
                extra=extra,
            )
        except TransactionRejected as rejected:
            if 0 in rejected.failed_indexes:
                continue  # confirmed concurrently: read again, answer "already applied"
            raise RefusedError(
                "OVER_REFUND", f"refund {refund_id} would refund more than was paid for a line", 409
            ) from rejected
        if moved is not None:
            _resume(moved)
            logger.info("refund confirmed", extra={"case_id": case_id, "refund_id": refund_id})
            return RefundOutcome(moved, applied=True)
    raise TransientError(f"refund {refund_id}: the case kept changing; retry")


# ---------------------------------------------------------------- the return-shipping deadline (timer)


def return_deadline_passed(case_id: str, now: datetime | None = None) -> bool:
    """The buyer did not ship the return in time: close the case (what it claimed is given back).
    Idempotent: a second firing, or one for a case that moved on, changes nothing. True when closed."""
    now = now or clock.now()
    for _ in range(MAX_ROUNDS):
        try:
            case = get_case(case_id)
        except CaseNotFoundError:
            return False
        due = case.return_deadline
        if case.status != CaseStatus.AWAITING_RETURN or case.return_waybill is not None or due is None:
            if due is not None:
                repository.write_items([repository.return_deadline_delete_item(case_id, due)])
            return False
        if now < due:
            return False
        closed = _close(
            case,
            reason="return_not_shipped",
            extra=[repository.return_deadline_delete_item(case_id, due)],
        )
        if closed is not None:
            _resume(closed)
            logger.info("case closed: return not shipped in time", extra={"case_id": case_id})
            return True
    raise TransientError(f"case {case_id} kept changing; retry")


def sweep_return_deadlines() -> list[str]:
    """What a lost schedule would have closed (rate rule)."""
    closed = []
    for _order_id, case_id in repository.due_return_deadlines(clock.now()):
        if return_deadline_passed(case_id):
            closed.append(case_id)
    return closed
