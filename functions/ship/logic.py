"""Packing into shipments and naming them. Pure and deterministic, so a retried task builds the same plan."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from functions.core.models import OrderLine, Reservation, Shipment

DEFAULT_CARRIER = "SF"


def tracking_number(carrier: str, shipment_id: str) -> str:
    """Carrier prefix + 12 digits derived from the shipment id (a real carrier API returns its own)."""
    digits = int(hashlib.sha256(shipment_id.encode()).hexdigest(), 16) % 10**12
    return f"{carrier}{digits:012d}"


def plan_shipments(
    order_id: str, reservations: Sequence[Reservation], at: datetime, carrier: str = DEFAULT_CARRIER
) -> list[Shipment]:
    """One shipment per warehouse the order was allocated from."""
    by_warehouse: dict[str, list[Reservation]] = defaultdict(list)
    for r in reservations:
        by_warehouse[r.warehouse].append(r)
    shipments = []
    for warehouse in sorted(by_warehouse):
        shipment_id = f"{order_id}-{warehouse}"
        shipments.append(
            Shipment(
                shipment_id=shipment_id,
                order_id=order_id,
                warehouse=warehouse,
                carrier=carrier,
                tracking_number=tracking_number(carrier, shipment_id),
                lines=sorted(by_warehouse[warehouse], key=lambda r: r.sku),
                created_at=at,
            )
        )
    return shipments


VIRTUAL = "VIRTUAL"  # the warehouse and carrier of 虚拟出库 (virtual outbound): nothing leaves a building


def virtual_shipment(order_id: str, lines: Sequence[OrderLine], at: datetime) -> Shipment | None:
    """Virtual lines (gift cards, services, digital goods) are fulfilled at once: one shipment record,
    no warehouse, no stock movement. None when the order has no virtual line."""
    virtual = sorted((line for line in lines if line.virtual), key=lambda line: line.sku)
    if not virtual:
        return None
    shipment_id = f"{order_id}-{VIRTUAL}"
    return Shipment(
        shipment_id=shipment_id,
        order_id=order_id,
        warehouse=VIRTUAL,
        carrier=VIRTUAL,
        tracking_number=tracking_number("V", shipment_id),
        lines=[Reservation(sku=line.sku, warehouse=VIRTUAL, quantity=line.quantity) for line in virtual],
        created_at=at,
        virtual=True,
    )


def plan_group_shipments(
    shipper_id: str,
    reservations_by_order: Mapping[str, Sequence[Reservation]],
    at: datetime,
    carrier: str = DEFAULT_CARRIER,
) -> dict[str, list[Shipment]]:
    """合单: one parcel per warehouse for all the orders shipping together, seen from each order.

    Every order gets the parcels that carry its lines: same shipment id and tracking number for all,
    its own lines only, and `order_ids` naming every order in the parcel when there is more than one.
    With a single order this is `plan_shipments`.
    """
    by_warehouse: dict[str, set[str]] = defaultdict(set)
    for order_id, reservations in reservations_by_order.items():
        for r in reservations:
            by_warehouse[r.warehouse].add(order_id)
    views: dict[str, list[Shipment]] = {order_id: [] for order_id in reservations_by_order}
    for warehouse in sorted(by_warehouse):
        shipment_id = f"{shipper_id}-{warehouse}"
        together = sorted(by_warehouse[warehouse])
        for order_id in together:
            views[order_id].append(
                Shipment(
                    shipment_id=shipment_id,
                    order_id=order_id,
                    warehouse=warehouse,
                    carrier=carrier,
                    tracking_number=tracking_number(carrier, shipment_id),
                    lines=sorted(
                        (
                            r.model_copy(update={"shards": None})  # which counter gave it is stock's business
                            for r in reservations_by_order[order_id]
                            if r.warehouse == warehouse
                        ),
                        key=lambda r: r.sku,
                    ),
                    created_at=at,
                    order_ids=together if len(together) > 1 else [],
                )
            )
    return views
