"""Shipment routes: the carriers' tracking webhook, and a parcel's tracking for ops and platforms."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.models.shipping import TrackingEvent
from functions.core.security import current_principal
from functions.ship.tracking_service import record_event, shipment_view

router = APIGatewayRouter()

ShipmentIdPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="shipment id (from the order)")
]


@router.post(
    "/shipments/<shipment_id>/tracking",
    summary="Carrier tracking webhook (signed by the carrier; idempotent by event_id)",
    tags=["shipping"],
)
def post_tracking(shipment_id: ShipmentIdPath, event: TrackingEvent) -> dict[str, Any]:
    principal = current_principal()
    carrier = principal.id if principal.kind == "carrier" else None  # admin: any carrier's parcel
    return record_event(shipment_id, event, carrier=carrier).model_dump(mode="json")


@router.get("/shipments/<shipment_id>", summary="A shipment's tracking and carrier events", tags=["shipping"])
def get_shipment(shipment_id: ShipmentIdPath) -> dict[str, Any]:
    principal = current_principal()
    return shipment_view(shipment_id, platform=principal.platform)
