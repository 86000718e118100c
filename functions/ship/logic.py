"""Packing into shipments and naming them. Pure and deterministic, so a retried task builds the same plan."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from functions.core.models import Reservation, Shipment

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
