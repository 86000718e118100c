"""Line changes before shipment: lower a quantity, remove a line, or cancel every line (the order).

One transaction on the order (conditional on the status and version read): the new lines and amounts,
the change record (who, why, the refund), the history event, the reserved units given back to their
stock counter shards with their ledger entries, and the refund owed, or (every line cancelled) the
interception that cancels the order. Idempotent by the caller's reference.

The order's one running execution reads the order at each step, so it ships what is left. It is at
most parked on a task token: a backordered order (AwaitStock) is woken to allocate what it now needs;
a cancelled one is stopped at once (the interception signal); a hold or the payment wait need nothing
(the approval resumes with the new lines; the payment must bring the new total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.changes.lines import LinesChangeIn, LinesPlan, plan_lines_change
from functions.changes.logic import earlier_change, refuse_change
from functions.core import clock, repository, workflow
from functions.core.errors import RefusedError
from functions.core.models import ChangeRecord, Interception, Order
from functions.core.observability import bind_platform, logger
from functions.core.repository import ReadAgain, TransactionRejected, Write
from functions.core.status import OrderStatus

ATTEMPTS = 5
INTERCEPTED_ERROR = "OrderInterceptedError"  # functions/core/errors.py: routes the execution to Intercepted
STOCK_AVAILABLE_ERROR = "StockAvailableError"  # AwaitStock's Catch: allocate again now


@dataclass(frozen=True)
class LinesResult:
    order: Order
    repeated: bool  # the same change (same reference and content) was already applied
    record: ChangeRecord
    plan: LinesPlan | None  # None for a repeat
    woken: bool = False  # the execution waited on a token and was told


def _refuse_if_aftersales(order_id: str) -> None:
    claimed = [sku for sku, c in repository.line_counters(order_id).items() if c.get("committed_qty", 0)]
    if claimed:
        raise RefusedError(
            "AFTERSALES_OPEN",
            f"an after-sales case claims line(s) {', '.join(sorted(claimed))}; decide it first",
        )


def _detail(request: LinesChangeIn, order: Order, plan: LinesPlan) -> dict[str, Any]:
    return {
        "reason": request.reason,
        "reference": request.reference,
        "lines": [{"sku": d.sku, "from": d.before, "to": d.after} for d in plan.deltas],
        "refund": str(plan.refund) if plan.refund is not None else None,
        "currency": order.amounts.currency,
        "total": str(plan.amounts.total),
        "released": [{"sku": r.sku, "warehouse": r.warehouse, "quantity": r.quantity} for r in plan.released],
    }


def _writes(order: Order, request: LinesChangeIn, plan: LinesPlan, actor: str) -> list[Write]:
    writes: list[Write] = []
    for cut in plan.cuts:
        writes += repository.reservation_cut_items(order.order_id, cut.before, cut.released)
    removed = [d.sku for d in plan.deltas if d.after == 0]
    info = order.allocation
    if removed and order.status == OrderStatus.BACKORDERED and info and info.backordered_since:
        writes += repository.waitlist_delete_items(order.order_id, info.backordered_since, removed)
    if plan.refund:
        writes.append(
            repository.change_refund_item(
                order.order_id,
                request.reference,
                {
                    "amount": str(plan.refund),
                    "currency": order.amounts.currency,
                    "status": "requested",
                    "requested_at": clock.now().isoformat(),
                    "requested_by": actor,
                },
            )
        )
    return writes


def change_lines(order_id: str, request: LinesChangeIn, actor: str) -> LinesResult:
    fingerprint = request.fingerprint()

    def attempt() -> LinesResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        bind_platform(order.platform)
        earlier = earlier_change(order, request.reference)
        if earlier is not None:
            if earlier.fingerprint != fingerprint:
                raise RefusedError(
                    "REFERENCE_REUSED", f"change {request.reference} was made before with other content"
                )
            return LinesResult(order, repeated=True, record=earlier, plan=None)
        refused = refuse_change(order)
        if refused is not None:
            raise refused
        _refuse_if_aftersales(order_id)
        plan = plan_lines_change(order, aggregate.reservations, request)
        now = clock.now()
        record = ChangeRecord(
            reference=request.reference,
            kind="cancel" if plan.cancels_order else "lines",
            fingerprint=fingerprint,
            actor=actor,
            at=now,
            refund=plan.refund,
        )
        fields: dict[str, Any] = {"changes": [c.model_dump(mode="json") for c in (*order.changes, record)]}
        if plan.cancels_order:
            interception = Interception(
                reason=f"every line cancelled (change {request.reference}): {request.reason}"[:500],
                action="cancel",
                actor=actor,
                requested_at=now,
            )
            fields["interception"] = interception.model_dump(mode="json")
        else:
            fields["lines"] = [line.model_dump(mode="json") for line in plan.lines]
            fields["amounts"] = plan.amounts.model_dump(mode="json")
            if plan.allocation is not None:
                fields["allocation"] = plan.allocation.model_dump(mode="json")
        try:
            updated = repository.annotate(
                order,
                event_type="order.cancelled_by_change" if plan.cancels_order else "order.lines_changed",
                actor=actor,
                set_fields=fields,
                detail=_detail(request, order, plan),
                extra_items=_writes(order, request, plan, actor),
            )
        except TransactionRejected:
            raise ReadAgain from None  # a reservation or counter moved (shipping, a release): read again
        if updated is None:
            raise ReadAgain
        return LinesResult(updated, repeated=False, record=record, plan=plan)

    result = repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while its lines changed; retry"
    )
    if result.plan is None:
        return result
    if result.plan.cancels_order:
        woken = _tell_waiting_execution(order_id, INTERCEPTED_ERROR, f"order {order_id} was cancelled")
    elif result.order.status == OrderStatus.BACKORDERED:
        woken = _tell_waiting_execution(order_id, STOCK_AVAILABLE_ERROR, f"order {order_id} changed lines")
    else:
        woken = False
    logger.info(
        "order lines changed",
        extra={"cancels_order": result.plan.cancels_order, "refund": str(result.plan.refund), "woken": woken},
    )
    return LinesResult(result.order, False, result.record, result.plan, woken)


def _tell_waiting_execution(order_id: str, error: str, cause: str) -> bool:
    """The execution parked on a task token would not read the order again soon: end its wait now."""
    token = repository.get_wait_token(order_id)
    if token is None:
        return False  # not parked: it reads the order at its next step
    told = workflow.send_task_failure(token, error, cause)
    repository.clear_wait_token(order_id, token)
    return told
