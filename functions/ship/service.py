"""Ship stage: create the shipments and move reserved stock out of the warehouse, in one transaction."""

from __future__ import annotations

from pydantic import BaseModel

from functions.core import clock, repository
from functions.core.errors import IllegalTransitionError
from functions.core.interception import ensure_not_intercepted
from functions.core.models import Shipment
from functions.core.observability import MetricName, bind_platform, count
from functions.core.status import OrderStatus
from functions.ship.logic import plan_shipments


class ShippingResult(BaseModel):
    shipments: list[Shipment]


def ship_order(order_id: str, execution_id: str | None) -> ShippingResult:
    aggregate = repository.load_aggregate(order_id)
    order = aggregate.order
    bind_platform(order.platform)
    ensure_not_intercepted(order, "ship")
    if order.status == OrderStatus.SHIPPED:
        return ShippingResult(shipments=aggregate.shipments)
    if order.status != OrderStatus.ALLOCATED:
        raise IllegalTransitionError(order_id, order.status, OrderStatus.SHIPPED)
    shipments = plan_shipments(order_id, aggregate.reservations, clock.now())
    extra = repository.ship_items(order_id, aggregate.reservations)
    extra += [repository.shipment_item(s) for s in shipments]
    repository.transition(
        order,
        OrderStatus.SHIPPED,
        event_type="order.shipped",
        actor="stage:ship",
        execution_id=execution_id,
        detail={"shipments": [{"id": s.shipment_id, "tracking": s.tracking_number} for s in shipments]},
        set_fields={"shipment_ids": [s.shipment_id for s in shipments]},
        extra_items=extra,
    )
    count(MetricName.ORDERS_SHIPPED, order.platform)
    return ShippingResult(shipments=shipments)
