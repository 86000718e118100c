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

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from functions.changes.growth import ReservationGrowth, plan_growth
from functions.changes.lines import LinesChangeIn, LinesPlan, plan_lines_change
from functions.changes.logic import admit_change
from functions.core import application, clock, repository, workflow
from functions.core.errors import RefusedError
from functions.core.models.order_in import OrderLine
from functions.core.models.orders import ChangedLine, ChangeRecord, Interception, Order, ReviewOutcome
from functions.core.models.stock import Reservation
from functions.core.observability import bind_platform, logger
from functions.core.repository import ReadAgain, TransactionRejected, Write, active_rules
from functions.core.status import OrderStatus
from functions.intercept.logic import InterceptIn
from functions.review.logic import high_value, review, totals_add_up

ATTEMPTS = 5
INTERCEPTED_ERROR = "OrderInterceptedError"  # functions/core/errors.py: routes the execution to Intercepted
STOCK_AVAILABLE_ERROR = "StockAvailableError"  # AwaitStock's Catch: allocate again now
ACTOR = "stage:changes"
# What more units can trip at review (the address, buyer and platform rules do not look at lines).
LINE_RULES = (totals_add_up, high_value)
HOLDS_STOCK = frozenset({OrderStatus.ALLOCATED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID})


@dataclass(frozen=True)
class LinesResult:
    order: Order
    repeated: bool  # the same change (same reference and content) was already applied
    record: ChangeRecord
    plan: LinesPlan | None  # None for a repeat
    woken: bool = False  # the execution waited on a token and was told
    review: ReviewOutcome | None = None  # more units: what the line rules said of the order as it became
    held: bool = False  # they want a person: the order was sent to the review queue
    reserved: tuple[Reservation, ...] = ()  # more units: what was reserved for them


def _holds_stock(order: Order) -> bool:
    """Stock is reserved for the order's lines (allocated, or held after allocation)."""
    resumes_at_ship = order.hold is not None and order.hold.resume == "ship"
    return order.status in HOLDS_STOCK or (order.status == OrderStatus.ON_HOLD and resumes_at_ship)


def _added_lines(order: Order, request: LinesChangeIn) -> dict[str, OrderLine]:
    """The request's SKUs the order has no line for, as lines from the product master (name, virtual)
    and the request's price; SKUs the master does not have (active, not a bundle) are left out, so the
    plan names them as unknown."""
    have = {line.sku for line in order.lines}
    new = {item.sku: item for item in request.lines if item.sku not in have and item.quantity > 0}
    products = repository.get_products(new)
    return {
        sku: OrderLine(
            sku=sku,
            quantity=1,  # set from the request by the plan
            unit_price=item.unit_price if item.unit_price is not None else Decimal("0.00"),
            name=products[sku].name or None,
            virtual=products[sku].virtual,
        )
        for sku, item in new.items()
        if sku in products and products[sku].active and not products[sku].components
    }


def _refuse_if_aftersales(order_id: str) -> None:
    claimed = [sku for sku, c in repository.line_counters(order_id).items() if c.committed_qty]
    if claimed:
        raise RefusedError(
            "AFTERSALES_OPEN",
            f"an after-sales case claims line(s) {', '.join(sorted(claimed))}; decide it first",
        )


def _detail(
    request: LinesChangeIn,
    order: Order,
    plan: LinesPlan,
    growth: list[ReservationGrowth],
    outcome: ReviewOutcome | None,
) -> dict[str, Any]:
    return {
        "reserved": [
            {"sku": g.added.sku, "warehouse": g.added.warehouse, "quantity": g.added.quantity} for g in growth
        ],
        "review": [hit.code for hit in outcome.reasons] if outcome is not None else [],
        "reason": request.reason,
        "reference": request.reference,
        "lines": [{"sku": d.sku, "from": d.before, "to": d.after} for d in plan.deltas],
        "refund": str(plan.refund) if plan.refund is not None else None,
        "currency": order.amounts.currency,
        "total": str(plan.amounts.total),
        "released": [{"sku": r.sku, "warehouse": r.warehouse, "quantity": r.quantity} for r in plan.released],
    }


def _figures(order: Order, plan: LinesPlan) -> dict[str, Any]:
    """What the change does to the sales figures (each line's units and value, the total), kept on the
    change record: the aggregator folds it and can tell the order as it was received."""
    if plan.cancels_order:
        return {}  # the order's cancellation takes its figures off
    before = {line.sku: line for line in order.lines}
    after = {line.sku: line for line in plan.lines}
    zero = Decimal("0.00")
    lines = [
        ChangedLine(
            sku=d.sku,
            before=d.before,
            after=d.after,
            amount_before=before[d.sku].amount if d.sku in before else zero,
            amount_after=after[d.sku].amount if d.sku in after else zero,
        )
        for d in plan.deltas
    ]
    return {"lines": lines, "total_before": order.amounts.total, "total_after": plan.amounts.total}


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
        earlier = admit_change(order, request.reference, fingerprint)
        if earlier is not None:
            return LinesResult(order, repeated=True, record=earlier, plan=None)
        _refuse_if_aftersales(order_id)
        plan = plan_lines_change(order, aggregate.reservations, request, _added_lines(order, request))
        outcome = _re_review(order, plan)
        growth = _growth(order, aggregate.reservations, plan)
        now = clock.now()
        record = ChangeRecord(
            reference=request.reference,
            kind="cancel" if plan.cancels_order else "lines",
            fingerprint=fingerprint,
            actor=actor,
            at=now,
            refund=plan.refund,
            **_figures(order, plan),
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
                warehouses = sorted({*plan.allocation.warehouses, *(g.added.warehouse for g in growth)})
                allocation = plan.allocation.model_copy(
                    update={"warehouses": warehouses, "split": len(warehouses) > 1}
                )
                fields["allocation"] = allocation.model_dump(mode="json")
        try:
            updated = repository.annotate(
                order,
                event_type="order.cancelled_by_change" if plan.cancels_order else "order.lines_changed",
                actor=actor,
                set_fields=fields,
                detail=_detail(request, order, plan, growth, outcome),
                extra_items=_writes(order, request, plan, actor)
                + [w for g in growth for w in repository.reservation_grow_items(order_id, g.before, g.added)],
            )
        except TransactionRejected:
            raise ReadAgain from None  # a reservation or counter moved (shipping, a release): read again
        if updated is None:
            raise ReadAgain
        return LinesResult(
            updated,
            repeated=False,
            record=record,
            plan=plan,
            review=outcome,
            reserved=tuple(g.added for g in growth),
        )

    result = repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while its lines changed; retry"
    )
    plan = result.plan
    if plan is None:
        return result
    if plan.cancels_order:
        woken = _tell_waiting_execution(order_id, INTERCEPTED_ERROR, f"order {order_id} was cancelled")
    elif result.order.status == OrderStatus.BACKORDERED:
        woken = _tell_waiting_execution(order_id, STOCK_AVAILABLE_ERROR, f"order {order_id} changed lines")
    else:
        woken = False
    outcome = result.review
    held = False
    if outcome is not None and outcome.decision == "hold" and result.order.status != OrderStatus.ON_HOLD:
        codes = ", ".join(hit.code for hit in outcome.reasons)
        hold = InterceptIn(reason=f"line change {request.reference} tripped review: {codes}", action="hold")
        result = replace(result, order=application.request_interception(order_id, hold, ACTOR).order)
        held = True
    logger.info(
        "order lines changed",
        extra={"cancels_order": plan.cancels_order, "refund": str(plan.refund), "woken": woken, "held": held},
    )
    return replace(result, woken=woken, held=held)


def _re_review(order: Order, plan: LinesPlan) -> ReviewOutcome | None:
    """More units: the review rules that look at lines and amounts, on the order as it would be. A
    rejection refuses the change; a hold is applied after it (the order goes to the review queue)."""
    if not any(d.added for d in plan.deltas):
        return None
    changed = order.model_copy(update={"lines": plan.lines, "amounts": plan.amounts})
    outcome = review(changed, active_rules().review, rules=LINE_RULES)
    if outcome.decision == "reject":
        codes = ", ".join(hit.code for hit in outcome.reasons)
        raise RefusedError("REVIEW_REJECTED", f"the order as changed would be rejected at review: {codes}")
    return outcome


def _growth(order: Order, reservations: list[Reservation], plan: LinesPlan) -> list[ReservationGrowth]:
    """The units more to reserve now, for an order that holds its stock (otherwise the allocate step
    reserves every line when it runs)."""
    if plan.cancels_order or not _holds_stock(order):
        return []
    physical = {line.sku for line in plan.lines if not line.virtual}
    needs = {d.sku: d.added for d in plan.deltas if d.added and d.sku in physical}
    if not needs:
        return []
    shards = {sku: repository.get_stock_shards(sku) for sku in needs}
    return plan_growth(needs, reservations, shards, active_rules().allocation.warehouse_priority)


def _tell_waiting_execution(order_id: str, error: str, cause: str) -> bool:
    """The execution parked on a task token would not read the order again soon: end its wait now."""
    token = repository.get_wait_token(order_id)
    if token is None:
        return False  # not parked: it reads the order at its next step
    told = workflow.send_task_failure(token, error, cause)
    repository.clear_wait_token(order_id, token)
    return told
