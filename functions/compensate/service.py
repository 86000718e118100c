"""Compensation: after a stage failed for good, give back what the order holds and record why."""

from __future__ import annotations

from pydantic import BaseModel

from functions.core import repository
from functions.core.models.orders import Failure
from functions.core.models.stock import Reservation
from functions.core.observability import MetricName, bind_platform, count
from functions.core.stage import StepError
from functions.core.status import OrderStatus

# Statuses from which a failed order can still be compensated, with the stage that usually left it
# there (used when the state machine did not say which stage failed).
_STAGE_BY_STATUS = {
    OrderStatus.RECEIVED: "review",
    OrderStatus.ON_HOLD: "review",  # waiting for a person (an intercepted hold may hold stock)
    OrderStatus.APPROVED: "allocate",
    OrderStatus.BACKORDERED: "allocate",
    OrderStatus.ALLOCATED: "ship",
    OrderStatus.AWAITING_PAYMENT: "payment",
    OrderStatus.PAID: "ship",
}


class CompensationResult(BaseModel):
    status: OrderStatus
    released: list[Reservation] = []


def compensate_order(
    order_id: str, execution_id: str | None, error: StepError, stage: str | None = None
) -> CompensationResult:
    aggregate = repository.load_aggregate(order_id)
    order = aggregate.order
    bind_platform(order.platform)
    if order.status not in _STAGE_BY_STATUS:
        # Already terminal (a retried compensation) or past the point where anything can be given back.
        return CompensationResult(status=order.status)
    failure = Failure(
        stage=stage or _STAGE_BY_STATUS[order.status], error=error.error, cause=error.cause[:1000]
    )
    repository.transition(
        order,
        OrderStatus.FAILED,
        event_type="order.failed",
        actor="stage:compensate",
        execution_id=execution_id,
        detail={"stage": failure.stage, "error": failure.error, "released": len(aggregate.reservations)},
        set_fields={"failure": failure.model_dump()},
        extra_items=[
            *repository.release_items(order_id, aggregate.reservations),
            *repository.waitlist_leave_items(order),
        ],
    )
    count(MetricName.ORDERS_FAILED, order.platform, stage=failure.stage)
    return CompensationResult(status=OrderStatus.FAILED, released=aggregate.reservations)
