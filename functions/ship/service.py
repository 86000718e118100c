"""Ship stage: create the shipments and move reserved stock out of the warehouse, in one transaction.

Virtual lines (虚拟出库) get a virtual shipment and move no stock. Merged orders (合单) ship together:
whichever of their Ship tasks runs first ships every order of the group that is still ALLOCATED, in
one transaction; the others then find their order SHIPPED.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from functions.core import clock, repository
from functions.core.errors import IllegalTransitionError
from functions.core.interception import ensure_not_intercepted
from functions.core.models.shipping import Shipment
from functions.core.observability import MetricName, bind_platform, count
from functions.core.repository import (
    OrderAggregate,
    OrderChange,
    OrderMovedError,
    ReadAgain,
    Write,
    active_rules,
)
from functions.core.status import OrderStatus
from functions.ship.delivery import deliver_if_complete, initial_delivery, tracking_record
from functions.ship.logic import choose_carrier, parcel_of, plan_group_shipments, virtual_shipment

ACTOR = "stage:ship"
SHIPPABLE = (OrderStatus.ALLOCATED, OrderStatus.PAID)
MAX_ROUNDS = 3
MAX_TRANSACTION_ITEMS = 100


class ShippingResult(BaseModel):
    shipments: list[Shipment]


def _weights_kg(skus: set[str]) -> dict[str, Decimal]:
    """Kilograms per unit from the product master (SKUs it gives no weight are left out)."""
    return {
        sku: product.weight_kg
        for sku, product in repository.get_products(skus).items()
        if product.weight_kg is not None
    }


def _group(aggregate: OrderAggregate) -> list[OrderAggregate]:
    """The order and, when it is merged, the other orders of its group that can still ship."""
    merge = aggregate.order.merge
    if merge is None:
        return [aggregate]
    ids = merge.orders
    if merge.role == "member":
        leader = repository.find_order(merge.group)
        if leader is not None and leader.merge is not None:
            ids = leader.merge.orders
    members = [aggregate]
    for other_id in ids:
        if other_id == aggregate.order.order_id:
            continue
        other = repository.load_aggregate(other_id)
        intercepted = other.order.interception is not None and other.order.interception.pending
        if other.order.status in SHIPPABLE and other.order.is_paid and not intercepted:
            members.append(other)  # an unpaid or intercepted member goes its own way at its next step
    return members


def _fitting(candidates: list[OrderAggregate]) -> list[OrderAggregate]:
    """The order (first) and as many of its group as one transaction holds; the rest ship on their own
    Ship task. Cost per order: its update and event; per reservation a counter, a ledger entry per
    shard and the reservation item (an upper bound: merged orders share counters); its shipment records."""
    chosen: list[OrderAggregate] = []
    budget = MAX_TRANSACTION_ITEMS
    for member in candidates:
        reservations = member.reservations
        warehouses = len({(r.warehouse, r.group) for r in reservations})  # parcels
        # its shipment records, and (upper bound) one tracking record per parcel
        shipments = 2 * warehouses + any(line.virtual for line in member.order.lines)
        cost = 2 + sum(2 * len(r.shards or {"0": 1}) + 1 for r in reservations) + shipments
        if chosen and cost > budget:
            continue
        budget -= cost
        chosen.append(member)
    return chosen


def ship_order(order_id: str, execution_id: str | None) -> ShippingResult:
    def attempt() -> ShippingResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        bind_platform(order.platform)
        ensure_not_intercepted(order, "ship")
        if order.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED):
            if order.status == OrderStatus.SHIPPED and all(s.virtual for s in aggregate.shipments):
                deliver_if_complete(order_id)  # a retry after a crash between shipping and delivering
            return ShippingResult(shipments=aggregate.shipments)
        if order.status not in SHIPPABLE:  # PAID: arrived unpaid, paid since
            raise IllegalTransitionError(order_id, order.status, OrderStatus.SHIPPED)
        at = clock.now()
        members = _fitting(_group(aggregate))
        shipping = {m.order.order_id: m.reservations for m in members}
        carriers = active_rules().carriers
        weights = _weights_kg({r.sku for rs in shipping.values() for r in rs})
        choices = {
            warehouse: choose_carrier(
                carriers,
                parcel_of(
                    warehouse, shipping, {m.order.order_id: m.order for m in members}, carriers, weights
                ),
            )
            for warehouse in sorted({r.warehouse for rs in shipping.values() for r in rs})
        }
        views = plan_group_shipments(
            order_id, shipping, at, carriers={wh: c.carrier for wh, c in choices.items()}
        )
        changes: list[OrderChange] = []
        records: list[Write] = []
        parcels: dict[str, list[Shipment]] = {}
        for member in members:
            member_id = member.order.order_id
            virtual = virtual_shipment(member_id, member.order.lines, at)
            shipments = views[member_id] + ([virtual] if virtual is not None else [])
            views[member_id] = shipments
            records += [repository.shipment_item(s, member_id) for s in shipments]
            for s in shipments:
                if not s.virtual:
                    parcels.setdefault(s.shipment_id, []).append(s)
            detail: dict[str, Any] = {
                "shipments": [
                    {"id": s.shipment_id, "tracking": s.tracking_number, "carrier": s.carrier}
                    | ({"carrier_rule": choices[s.warehouse].reason} if s.warehouse in choices else {})
                    for s in shipments
                ]
            }
            if member_id != order_id:
                detail["shipped_with"] = order_id
            changes.append(
                OrderChange(
                    order=member.order,
                    target=OrderStatus.SHIPPED,
                    event_type="order.shipped",
                    actor=ACTOR,
                    execution_id=execution_id if member_id == order_id else None,
                    detail=detail,
                    set_fields={
                        "shipment_ids": [s.shipment_id for s in shipments],
                        "delivery": initial_delivery(shipments).model_dump(mode="json", exclude_none=True),
                    },
                )
            )
        platforms = {m.order.order_id: m.order.platform for m in members}
        records += [
            repository.tracking_record_item(tracking_record(views_of, platforms, carriers, at))
            for views_of in parcels.values()
        ]
        extra = repository.ship_group_items(shipping) + records
        try:
            repository.apply_changes(changes, extra)
        except OrderMovedError:
            raise ReadAgain from None  # an order of the group moved (or another Ship task shipped it)
        for member in members:  # a merged order shipped here is counted here (its own task finds it done)
            count(MetricName.ORDERS_SHIPPED, member.order.platform)
            if all(s.virtual for s in views[member.order.order_id]):
                deliver_if_complete(member.order.order_id)
        return ShippingResult(shipments=views[order_id])

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"order {order_id}: its group kept changing while shipping"
    )
