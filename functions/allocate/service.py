"""Allocate stage: reserve stock for every line in one transaction, or reject the order as out of stock."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from functions.allocate.logic import plan_allocation
from functions.core import repository
from functions.core.errors import TransientError
from functions.core.interception import ensure_not_intercepted
from functions.core.models import Reservation, RuleHit
from functions.core.observability import MetricName, bind_platform, count, logger
from functions.core.repository import TransactionRejected
from functions.core.settings import get_settings
from functions.core.status import OrderStatus

# Stock read for planning can be overtaken by another order; re-plan this many times before giving up.
MAX_PLANNING_ROUNDS = 3


class AllocationResult(BaseModel):
    outcome: Literal["allocated", "out_of_stock"]
    reservations: list[Reservation] = []
    short: list[str] = []


def allocate_order(order_id: str, execution_id: str | None) -> AllocationResult:
    aggregate = repository.load_aggregate(order_id)
    order = aggregate.order
    bind_platform(order.platform)
    ensure_not_intercepted(order, "allocate")
    if order.status == OrderStatus.ALLOCATED:
        return AllocationResult(outcome="allocated", reservations=aggregate.reservations)
    if order.status == OrderStatus.REJECTED and order.rejection and order.rejection.code == "OUT_OF_STOCK":
        return AllocationResult(outcome="out_of_stock", short=order.rejection.message.split(", "))

    for _ in range(MAX_PLANNING_ROUNDS):
        stock = {line.sku: repository.get_stock(line.sku) for line in order.lines}
        plan = plan_allocation(order.lines, stock, get_settings().default_warehouse)
        if not plan.complete:
            break
        try:
            repository.transition(
                order,
                OrderStatus.ALLOCATED,
                event_type="stock.reserved",
                actor="stage:allocate",
                execution_id=execution_id,
                detail={"reservations": [r.model_dump() for r in plan.reservations]},
                extra_items=repository.reserve_items(order_id, plan.reservations),
            )
        except TransactionRejected as rejected:
            logger.info("stock moved under us; re-planning", extra={"failed_items": rejected.failed_indexes})
            continue
        count(MetricName.ORDERS_ALLOCATED, order.platform)
        return AllocationResult(outcome="allocated", reservations=plan.reservations)
    else:
        raise TransientError(f"order {order_id}: stock kept changing during {MAX_PLANNING_ROUNDS} plans")

    rejection = RuleHit(code="OUT_OF_STOCK", message=", ".join(plan.short))
    repository.transition(
        order,
        OrderStatus.REJECTED,
        event_type="stock.short",
        actor="stage:allocate",
        execution_id=execution_id,
        detail={"short": plan.short},
        set_fields={"rejection": rejection.model_dump()},
    )
    count(MetricName.RESERVATIONS_REFUSED, order.platform)
    count(MetricName.ORDERS_REJECTED, order.platform, reason="out_of_stock")
    return AllocationResult(outcome="out_of_stock", short=plan.short)
