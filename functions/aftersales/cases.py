"""After-sales cases: reading them, one change of a case, opening one, and the refund and close steps
the execution, the API and the deadline share (see service.py for the whole picture)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from functions.aftersales import logic
from functions.aftersales.models import (
    Case,
    CaseEvent,
    CaseIn,
    CaseStatus,
    case_id_for,
    order_id_of_case,
    refund_id_for,
)
from functions.aftersales.settings import case_workflow_settings
from functions.core import aws, clock, repository, workflow
from functions.core.errors import OrderNotFoundError, RefusedError, TransientError
from functions.core.models.orders import Order
from functions.core.observability import MetricName, count, logger
from functions.core.repository import ReadAgain, TransactionRejected, Write, active_rules

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


def parse_case(raw: dict[str, Any]) -> Case:
    return Case.model_validate(raw)


def get_case(case_id: str) -> Case:
    order_id = order_id_of_case(case_id)
    raw = repository.get_case(order_id, case_id) if order_id else None
    if raw is None:
        raise CaseNotFoundError(f"case {case_id}")
    return parse_case(raw)


def list_cases(order_id: str) -> list[Case]:
    repository.get_order(order_id)  # 404 for an unknown order
    return sorted((parse_case(raw) for raw in repository.list_cases(order_id)), key=lambda c: c.opened_at)


def execution_arn_of(case_id: str) -> str:
    arn = case_workflow_settings().aftersales_state_machine_arn
    return arn.replace(":stateMachine:", ":execution:") + f":{case_id}"


# ---------------------------------------------------------------- one change of a case


def event_detail(case: Case, **extra: Any) -> dict[str, Any]:
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


def apply_change(
    case: Case,
    status: CaseStatus,
    *,
    actor: str,
    note: str | None = None,
    fields: dict[str, Any] | None = None,
    order_event: str | None = None,
    detail: dict[str, Any] | None = None,
    order_fields: Callable[[Order], dict[str, Any]] | None = None,
    extra: list[Write] | None = None,
    remove: tuple[str, ...] = (),
) -> Case | None:
    """Change the case (conditional on the version it was read at), with `extra` items and, with
    `order_event`, a history event on the order, all in one transaction. None: the case or the order
    moved meanwhile (read again, decide again). TransactionRejected: one of `extra` failed (its tag)."""
    now = clock.now()
    timeline = [*case.timeline, CaseEvent(at=now, status=status, actor=actor, note=note)]
    changes = {
        "status": status.value,
        "updated_at": now.isoformat(),
        "timeline": [event.model_dump(mode="json") for event in timeline],
        **(fields or {}),
    }
    writes = [
        repository.case_update_item(case.order_id, case.case_id, case.version, changes, remove),
        *(extra or []),
    ]
    try:
        if order_event is None:
            repository.commit(writes)
        else:
            order = repository.get_order(case.order_id)
            annotated = repository.annotate(
                order,
                event_type=order_event,
                actor=actor,
                detail=detail or event_detail(case),
                set_fields=order_fields(order) if order_fields is not None else {},
                extra_items=writes,
            )
            if annotated is None:
                return None
    except TransactionRejected as rejected:
        if rejected.failed(repository.CASE_TAG):
            return None
        raise
    data = case.model_dump(mode="json")
    for name in remove:
        data.pop(name, None)
    data.update(changes)
    data["version"] = case.version + 1
    return parse_case(data)


def resume(case: Case, output: dict[str, Any] | None = None) -> bool:
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

    def attempt() -> tuple[Case, bool]:
        nonlocal case_id
        existing = repository.get_case(order_id, case_id) if request.reference else None
        if existing is not None:
            found = parse_case(existing)
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
            origin_paid = logic.origin_paid(paid[line.sku], by_sku[line.sku].origins or ())
            origin_quantity = {o.line: o.quantity for o in by_sku[line.sku].origins or ()}
            counter = counters.get(line.sku)
            claims = [
                repository.OriginClaim(
                    line=part.line,
                    amount=part.amount,
                    units=part.quantity,
                    paid=origin_paid[part.line],
                    quantity=origin_quantity[part.line],
                    exact_from=(
                        (
                            counter.origin_committed.get(part.line, logic.ZERO),
                            counter.origin_committed_qty.get(part.line, 0),
                        )
                        if counter is not None
                        else (logic.ZERO, 0)
                    )
                    if part.exact
                    else None,
                )
                for part in line.origins
            ]
            commits.append(
                repository.line_commit_item(
                    order_id,
                    line.sku,
                    paid=state.paid,
                    quantity=state.quantity,
                    amount=line.amount,
                    units=line.quantity,
                    exact_from=(state.committed, state.committed_qty) if line.exact else None,
                    origins=claims,
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
                detail=event_detail(case, reason=request.reason, opened_by=actor),
                set_fields={},
                extra_items=extra,
            )
        except TransactionRejected as rejected:
            if rejected.failed(repository.CASE_TAG) and request.reference:
                raise ReadAgain from None  # the same reference was opened concurrently: return that case
            if rejected.failed(repository.CASE_TAG):
                case_id = case_id_for(order_id, None)  # a random id collided: draw again
            raise ReadAgain from None  # a line counter moved (another case claimed): plan again
        if stored is None:
            raise ReadAgain  # the order moved: read it again
        count(MetricName.AFTERSALES_CASES_OPENED, order.platform, action=request.kind)
        logger.info("after-sales case opened", extra={"case_id": case_id, "kind": request.kind})
        _start(case)
        return case, True

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"order {order_id} kept changing while the case was opened; retry"
    )


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


# ---------------------------------------------------------------- shared steps: refund and close


def issue_refund(case: Case, note: str | None = None) -> None:
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
        moved = apply_change(
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


def close_case(case: Case, reason: str | None = None, extra: list[Write] | None = None) -> Case | None:
    reason = reason or {
        CaseStatus.REJECTED: "rejected",
        CaseStatus.REFUNDED: "refunded",
        CaseStatus.REPLACEMENT_SHIPPED: "exchanged",
    }.get(case.status, "closed")
    releases = [
        repository.line_release_item(
            case.order_id,
            line.sku,
            line.amount,
            line.quantity,
            [repository.OriginClaim(line=o.line, amount=o.amount, units=o.quantity) for o in line.origins],
        )
        for line in logic.settled_lines(case)
        if line.amount or line.quantity
    ]
    return apply_change(
        case,
        CaseStatus.CLOSED,
        actor=STAGE_ACTOR,
        note=reason,
        fields={"closed_reason": reason, "closed_at": clock.now().isoformat()},
        order_event="aftersales.closed",
        detail=event_detail(case, reason=reason, released=bool(releases)),
        extra=[*releases, *(extra or [])],
    )
