"""What people and callbacks do to a case through the API: decide, return, receive, inspect, refund."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from botocore.exceptions import ClientError

from functions.aftersales import logic, timers
from functions.aftersales.cases import (
    MAX_ROUNDS,
    CaseNotFoundError,
    apply_change,
    event_detail,
    get_case,
    resume,
)
from functions.aftersales.models import (
    Case,
    CaseStatus,
    Inspection,
    Received,
    RefundCallback,
    ReturnShipped,
    case_id_of_refund,
)
from functions.core import application, clock, repository
from functions.core.errors import RefusedError
from functions.core.models.orders import Order, RefundSummary
from functions.core.observability import logger
from functions.core.repository import ReadAgain, TransactionRejected, Write

# ---------------------------------------------------------------- people and callbacks (API)


def _refuse_unless_allowed(case: Case, action: str) -> None:
    refused = logic.refusal(case, action)
    if refused is not None:
        raise refused


def _apply_clearing_deadline(
    case: Case,
    status: CaseStatus,
    *,
    actor: str,
    note: str | None,
    fields: dict[str, Any],
    order_event: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Case | None:
    """`apply_change`, dropping the return-shipping deadline in the same transaction (and then its
    one-time schedule): once the return ships or arrives, the deadline no longer applies."""
    extra = []
    if case.return_deadline is not None:
        extra.append(repository.return_deadline_delete_item(case.case_id, case.return_deadline))
    moved = apply_change(
        case,
        status,
        actor=actor,
        note=note,
        fields=fields,
        order_event=order_event,
        detail=detail,
        extra=extra,
    )
    if moved is not None:
        timers.delete_return_deadline(case.case_id)
    return moved


def decide(case_id: str, decision: Literal["approve", "reject"], comment: str, actor: str) -> Case:
    def attempt() -> Case:
        case = get_case(case_id)
        if (
            case.decision == ("approved" if decision == "approve" else "rejected")
            and case.decided_by == actor
        ):
            return case  # a resent decision
        _refuse_unless_allowed(case, "decide")
        status = CaseStatus.APPROVED if decision == "approve" else CaseStatus.REJECTED
        moved = apply_change(
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
            detail=event_detail(case, auto=False, comment=comment),
        )
        if moved is not None:
            resume(moved)
            return moved
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS, gave_up=f"case {case_id} kept changing; retry")


def return_shipped(case_id: str, body: ReturnShipped, actor: str) -> Case:
    def attempt() -> Case:
        case = get_case(case_id)
        if case.return_waybill == body.waybill:
            return case
        _refuse_unless_allowed(case, "return_shipped")
        moved = _apply_clearing_deadline(
            case,
            case.status,
            actor=actor,
            note=f"return shipped with {body.carrier} {body.waybill}",
            fields={
                "return_waybill": body.waybill,
                "return_carrier": body.carrier,
                "return_shipped_at": clock.now().isoformat(),
            },
        )
        if moved is not None:
            return moved
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS, gave_up=f"case {case_id} kept changing; retry")


def receive(case_id: str, body: Received, actor: str) -> Case:
    def attempt() -> Case:
        case = get_case(case_id)
        if case.status == CaseStatus.RECEIVED or case.received_at is not None:
            return case
        _refuse_unless_allowed(case, "received")
        moved = _apply_clearing_deadline(
            case,
            CaseStatus.RECEIVED,
            actor=actor,
            note=body.note,
            fields={"received_at": clock.now().isoformat()},
            order_event="aftersales.return_received",
            detail=event_detail(case, waybill=case.return_waybill),
        )
        if moved is not None:
            resume(moved)
            return moved
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS, gave_up=f"case {case_id} kept changing; retry")


def inspect(case_id: str, body: Inspection, actor: str) -> Case:
    """Resellable: the units go back on sale in the warehouse they shipped from (ledger `returned`);
    damaged: written off (ledger `writeoff`, stock unchanged). One transaction with the case change."""

    def attempt() -> Case:
        case = get_case(case_id)
        if case.inspection is not None:
            if case.inspection != body.result:
                raise RefusedError("ALREADY_INSPECTED", f"case {case_id} was inspected: {case.inspection}")
            return case
        _refuse_unless_allowed(case, "inspect")
        counters = repository.line_counters(case.order_id)
        extra: list[Write] = []
        moved_skus: list[str] = []
        for line in case.lines:
            if not line.warehouses:
                continue
            counter = counters.get(line.sku)
            returned = counter.returned if counter is not None else 0
            extra.append(repository.line_return_item(case.order_id, line.sku, line.quantity, returned))
            for warehouse, units in line.warehouses:
                if body.result == "resellable":
                    extra += repository.return_to_stock_items(line.sku, warehouse, units, case.case_id)
                    moved_skus.append(line.sku)
                else:
                    extra.append(repository.writeoff_item(line.sku, warehouse, units, case.case_id))
        try:
            moved = apply_change(
                case,
                CaseStatus.INSPECTED,
                actor=actor,
                note=body.note or body.result,
                fields={"inspection": body.result},
                order_event="aftersales.inspected",
                detail=event_detail(case, result=body.result),
                extra=extra,
            )
        except TransactionRejected:
            raise ReadAgain from None  # a line's return count moved (another case's inspection): read again
        if moved is not None:
            _wake_backorders(moved_skus)
            resume(moved)
            return moved
        raise ReadAgain

    return repository.retrying(attempt, rounds=MAX_ROUNDS, gave_up=f"case {case_id} kept changing; retry")


def _wake_backorders(skus: list[str]) -> None:
    for sku in dict.fromkeys(skus):
        try:
            application.wake_backorders(sku)
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

    def attempt() -> RefundOutcome:
        case = get_case(case_id)
        refund = repository.get_refund(case.order_id, refund_id)
        if refund is None:
            raise CaseNotFoundError(f"refund {refund_id}")
        amount = refund.amount
        if body.amount != amount:
            raise RefusedError(
                "AMOUNT_MISMATCH", f"refund {refund_id} is for {amount}, not {body.amount}", 422
            )
        if refund.status == "succeeded":
            if case.status == CaseStatus.REFUND_PENDING:
                resume(case)
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
            moved = apply_change(
                case,
                CaseStatus.REFUNDED,
                actor=actor,
                note=f"refund {refund_id} confirmed",
                fields={"refunded_at": now.isoformat()},
                order_event="order.refunded",
                detail=event_detail(case, refund_id=refund_id, amount=str(amount)),
                order_fields=summary,
                extra=extra,
            )
        except TransactionRejected as rejected:
            if rejected.failed(repository.REFUND_TAG):
                raise ReadAgain from None  # confirmed concurrently: read again, answer "already applied"
            raise RefusedError(
                "OVER_REFUND", f"refund {refund_id} would refund more than was paid for a line", 409
            ) from rejected
        if moved is not None:
            resume(moved)
            logger.info("refund confirmed", extra={"case_id": case_id, "refund_id": refund_id})
            return RefundOutcome(moved, applied=True)
        raise ReadAgain

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"refund {refund_id}: the case kept changing; retry"
    )
