"""Delivery bookkeeping shared by the Ship stage and the tracking webhook: the order's delivery summary,
a parcel's tracking record, and DELIVERED for orders with nothing left to deliver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from functions.core import clock, repository
from functions.core.errors import IllegalTransitionError
from functions.core.models.orders import DeliverySummary, Order
from functions.core.models.shipping import Shipment, ShipmentTracking
from functions.core.observability import MetricName, count
from functions.core.rules import CarrierRules
from functions.core.status import OrderStatus
from functions.ship.tracking import CREATED, DELIVERED, delivery_summary, progress_due

ACTOR = "stage:ship"


def initial_delivery(shipments: Sequence[Shipment]) -> DeliverySummary:
    """At shipping: every parcel just created, every virtual shipment already delivered."""
    statuses = {s.shipment_id: DELIVERED if s.virtual else CREATED for s in shipments}
    at = clock.now() if all(s.virtual for s in shipments) else None
    return delivery_summary(statuses, at)


def tracking_record(
    parcel: Sequence[Shipment], platforms: Mapping[str, str], rules: CarrierRules, at: datetime
) -> ShipmentTracking:
    """The tracking record of one parcel, from its per-order views (合单: one view per order it carries),
    with its SLA armed: the carrier must show progress (pick it up) within the carrier's SLA."""
    first = parcel[0]
    order_ids = sorted({s.order_id for s in parcel})
    return ShipmentTracking(
        shipment_id=first.shipment_id,
        carrier=first.carrier,
        tracking_number=first.tracking_number,
        warehouse=first.warehouse,
        order_ids=order_ids,
        platforms=sorted({platforms[o] for o in order_ids}),
        status=CREATED,
        status_at=at,
        last_progress_at=at,
        progress_due=progress_due(rules.sla_hours(first.carrier), at, at),
        created_at=at,
    )


def summary_of(order: Order) -> DeliverySummary:
    """The order's delivery summary; orders shipped before it existed get one from their shipments."""
    if order.delivery is not None:
        return order.delivery
    return initial_delivery(repository.load_aggregate(order.order_id).shipments)


def deliver_if_complete(order_id: str) -> Order:
    """SHIPPED -> DELIVERED when nothing is left to deliver (an order of virtual lines only, at once)."""
    order = repository.get_order(order_id)
    if order.status != OrderStatus.SHIPPED or summary_of(order).state != "delivered":
        return order
    try:
        delivered = repository.transition(
            order,
            OrderStatus.DELIVERED,
            event_type="order.delivered",
            actor=ACTOR,
            detail={"shipments": sorted(summary_of(order).shipments), "virtual_only": True},
            set_fields={"delivery": summary_of(order).model_dump(mode="json", exclude_none=True)},
        )
    except IllegalTransitionError:
        return repository.get_order(order_id)
    if delivered.version != order.version:
        count(MetricName.ORDERS_DELIVERED, order.platform)
    return delivered
