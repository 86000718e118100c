"""Shipping: shipments, carriers' tracking events, parcels' tracking state and logistics exceptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, PlainSerializer, StringConstraints

from functions.core.models.base import Record, StrictModel
from functions.core.models.stock import Reservation


class Shipment(Record):
    shipment_id: str
    order_id: str
    warehouse: str
    carrier: str
    tracking_number: str
    lines: list[Reservation]
    created_at: datetime
    virtual: bool = Field(default=False, exclude_if=lambda value: not value)  # 虚拟出库: no stock moved
    order_ids: list[str] = Field(default_factory=list, exclude_if=lambda value: not value)  # 合单


# ---------------------------------------------------------------- shipping: tracking and exceptions


CarrierStatus = Literal[
    "picked", "shipped", "in_transit", "out_for_delivery", "delivered", "failed", "damaged", "lost"
]


class TrackingEvent(StrictModel):
    """A carrier's tracking event, as posted to POST /shipments/{id}/tracking (docs/shipping.md)."""

    event_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    tracking_number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    status: CarrierStatus
    occurred_at: AwareDatetime
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class KeptTrackingEvent(Record):
    """A carrier event as kept, once, under its parcel (SHIPMENT#<id> / TRK#<event id>): what the carrier
    said, when it came, its fingerprint (the same id resent with other content is a conflict) and what
    it did to the parcel."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str
    tracking_number: str
    status: CarrierStatus
    occurred_at: AwareDatetime
    location: str | None = None
    description: str | None = None
    # Kept as the clock's ISO text (+00:00), as GET /shipments/{id} has always shown it.
    received_at: Annotated[AwareDatetime, PlainSerializer(lambda at: at.isoformat(), when_used="json")]
    fingerprint: str
    reason: str
    outcome: str
    exception_id: str | None = None

    def public(self) -> dict[str, Any]:
        """What GET /shipments/{id} shows of it: everything but the fingerprint."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"fingerprint"})


class ShipmentTracking(Record):
    """One physical parcel's tracking state (SHIPMENT#<id> / TRACKING), shared by the orders it carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    shipment_id: str
    carrier: str
    tracking_number: str
    warehouse: str
    order_ids: list[str]
    platforms: list[str]
    status: str = "created"
    status_at: datetime
    last_progress_at: datetime
    progress_due: datetime | None = None  # no progress by then: the delay check flags it (None: not armed)
    exception_ids: list[str] = []
    version: int = 1
    created_at: datetime


class ExceptionResolution(Record):
    model_config = ConfigDict(frozen=True)

    action: Literal["reship", "refund", "dismiss"]
    comment: str
    actor: str
    at: datetime
    replacement_order_ids: dict[str, str] = {}  # original order id -> its replacement (reship)
    refund_case_ids: dict[str, str] = {}  # order id -> the after-sales refund case it opened (refund)
    written_off: list[Reservation] = []  # units written off in the stock ledger (damaged, lost)


class ExceptionCase(Record):
    """A logistics exception (EXC#<id> / CASE): damaged or lost goods, or a shipment stuck past its SLA."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    exception_id: str
    kind: Literal["damaged", "lost", "delayed"]
    status: Literal["open", "resolved"] = "open"
    shipment_id: str
    carrier: str
    tracking_number: str
    warehouse: str
    order_ids: list[str]
    platforms: list[str] = []
    opened_at: datetime
    opened_by: str
    detail: dict[str, Any] = {}
    resolution: ExceptionResolution | None = None
