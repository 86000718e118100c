"""The integration event catalogue: what the OMS publishes on its event bus, as pydantic models.

Every history event of an order (an EVT# item, appended in the transaction of the change it records) is
published once it is committed, as an EventBridge event with:
    source       "oms.orders"
    detail-type  the history event's type ("order.received", "order.shipped", ...)
    detail       an `IntegrationEvent`: the envelope (ids, status, time) and `data` for the type.

`data` is an allow-list per catalogued type (the models below; fields not named there are never
published), and for a type not in the catalogue only id-like and code-like fields (`_SAFE_KEYS`, keys
ending in `_id`/`_ids`). So an event carries no personal data: buyer id yes, name/phone/address never.
Shipping status changes are also published as a `fulfilment.updated` event, the form a marketplace
connector pushes back to the platform (platform order id, carrier, tracking number, shipment status).

Pure: no boto3. docs/events.md documents the catalogue; docs/events/*.schema.json are generated from
these models (`python -m functions.events.schemas`).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from functions.core.models.orders import HistoryEvent
from functions.core.status import OrderStatus

SOURCE = "oms.orders"
SCHEMA_VERSION: Literal["1.0"] = "1.0"
FULFILMENT_UPDATED: Literal["fulfilment.updated"] = "fulfilment.updated"
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:#-]+:[0-9]+(:[A-Za-z0-9._#-]+)?$"


class _Data(BaseModel):
    """A type's `data`: only the fields a model names are published (extra fields are dropped)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ---------------------------------------------------------------- data of each catalogued type


class ReceivedData(_Data):
    """order.received: the order was stored and its workflow started ("order created")."""

    lines: int = Field(ge=0, description="number of order lines")


class ReviewData(_Data):
    """review.hold / review.approve / review.reject: the automatic review's decision."""

    reasons: list[str] = Field(default=[], description="codes of the review rules that matched")
    rules_version: int | None = Field(default=None, description="strategy-center version decided under")

    @field_validator("reasons", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v.get("code") if isinstance(v, dict) else v for v in value]
        return value


class ManualReviewData(_Data):
    """review.manual_approve / review.manual_reject: a person decided a held order (no comment: free text)."""

    held_for: list[str] = Field(default=[], description="codes the order was held for")
    released: int = Field(default=0, ge=0, description="reservations released (a reject)")


class ReservedLine(_Data):
    sku: str
    warehouse: str
    quantity: int = Field(ge=0)


class StockReservedData(_Data):
    """stock.reserved: stock was reserved for every physical line ("allocated")."""

    reservations: list[ReservedLine] = []
    warehouses: list[str] = []
    split: bool = False


class ShipmentRef(_Data):
    shipment_id: str
    tracking_number: str | None = None
    carrier: str | None = None

    @classmethod
    def of(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                "shipment_id": value.get("shipment_id", value.get("id")),
                "tracking_number": value.get("tracking_number", value.get("tracking")),
                "carrier": value.get("carrier"),
            }
        return value


class ShippedData(_Data):
    """order.shipped: the order's shipments left the warehouse."""

    shipments: list[ShipmentRef] = []
    shipped_with: str | None = Field(default=None, description="the order it shipped with (合单)")

    @field_validator("shipments", mode="before")
    @classmethod
    def _shipments(cls, value: Any) -> Any:
        return [ShipmentRef.of(v) for v in value] if isinstance(value, list) else value


class DeliveredData(_Data):
    """order.delivered / order.partially_delivered: the carrier delivered (all / some) shipments."""

    shipment_id: str | None = None
    shipment_ids: list[str] = []
    carrier: str | None = None
    tracking_number: str | None = None


class CancelledData(_Data):
    """order.cancelled / payment.timeout: the order was cancelled; reserved stock was released."""

    reason: str | None = Field(default=None, description="a code: who or what cancelled")
    released: int = Field(default=0, ge=0, description="reservations released")

    @field_validator("released", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        return len(value) if isinstance(value, list) else value

    @field_validator("reason", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return value.get("code")
        if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
            return None  # free text (an operator's words) is not published
        return value


class RefundLine(_Data):
    sku: str | None = None
    line_no: int | None = None
    quantity: int | None = Field(default=None, ge=0)
    amount: Decimal | None = Field(default=None, description="decimal string")


class RefundedData(_Data):
    """order.refunded: money went back to the buyer (after-sales)."""

    case_id: str | None = None
    refund_id: str
    amount: Decimal = Field(description='decimal string, e.g. "12.30"')
    currency: str | None = None
    lines: list[RefundLine] = []


class ExceptionData(_Data):
    """exception.opened / exception.resolved: a logistics exception (damage, loss, delay)."""

    exception_id: str
    kind: Literal["damaged", "lost", "delayed"] | None = None
    shipment_id: str | None = None
    resolution: Literal["reship", "refund", "dismiss"] | None = None


ShipmentStatus = Literal["picked", "shipped", "in_transit", "out_for_delivery", "delivered", "failed"]


class ShipmentStatusData(_Data):
    """shipment.*: a carrier status of one shipment."""

    shipment_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    status: str | None = None
    carrier_event_id: str | None = None
    occurred_at: datetime | None = None


class FailedData(_Data):
    """order.failed: a stage failed for good; the workflow compensated."""

    stage: str | None = None
    error: str | None = None
    released: int = 0


class InterceptedData(_Data):
    """order.intercepted / order.intercept_requested: ops stopped the order (no reason text: free text)."""

    action: Literal["cancel", "hold"] | None = None
    stage: str | None = None
    released: int = 0


DATA_MODELS: dict[str, type[_Data]] = {
    "order.received": ReceivedData,
    "review.hold": ReviewData,
    "review.approve": ReviewData,
    "review.reject": ReviewData,
    "review.manual_approve": ManualReviewData,
    "review.manual_reject": ManualReviewData,
    "stock.reserved": StockReservedData,
    "order.shipped": ShippedData,
    "order.delivered": DeliveredData,
    "order.partially_delivered": DeliveredData,
    "order.cancelled": CancelledData,
    "payment.timeout": CancelledData,
    "order.refunded": RefundedData,
    "exception.opened": ExceptionData,
    "exception.resolved": ExceptionData,
    "order.failed": FailedData,
    "order.intercepted": InterceptedData,
    **{f"shipment.{s}": ShipmentStatusData for s in ShipmentStatus.__args__},  # type: ignore[attr-defined]
}

# What issue 6 names, and the history type(s) each is published as.
REQUIRED: dict[str, tuple[str, ...]] = {
    "order created": ("order.received",),
    "held": ("review.hold", "order.intercepted"),  # intercepted: with status ON_HOLD (action hold)
    "approved": ("review.approve", "review.manual_approve"),
    "allocated": ("stock.reserved",),
    "shipped": ("order.shipped",),
    "delivered": ("order.delivered",),
    "cancelled": ("order.cancelled", "payment.timeout", "order.intercepted"),  # status CANCELLED
    "refunded": ("order.refunded",),
    "exception opened": ("exception.opened",),
}

_SAFE_KEYS = {"status", "kind", "reason_code", "code", "carrier", "tracking_number", "resolution", "stage"}
_SAFE_KEYS |= {"amount", "currency", "action", "decision", "cause", "deadline", "lines", "released"}


def generic_data(detail: dict[str, Any]) -> dict[str, Any]:
    """`data` of a type not in the catalogue: id-like and code-like scalars only (never free text)."""
    safe: dict[str, Any] = {}
    for key, value in detail.items():
        if not (key in _SAFE_KEYS or key.endswith("_id") or key.endswith("_ids")):
            continue
        if isinstance(value, str | int | float | bool) or value is None:
            safe[key] = str(value) if isinstance(value, float) else value
        elif isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            safe[key] = list(value)
        elif (isinstance(value, list) and key == "lines") or (isinstance(value, list) and key == "released"):
            safe[key] = len(value)
    return safe


# ---------------------------------------------------------------- the envelope


class OrderRef(BaseModel):
    """The order ids every event carries (read from the order; never its buyer's personal data)."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    platform: str
    platform_order_id: str
    buyer_id: str | None = None
    channel: Literal["api", "connector"] = "api"


class IntegrationEvent(BaseModel):
    """`detail` of every OMS event on the bus (detail-type = `type`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: str = Field(
        pattern=EVENT_ID_PATTERN,
        description="stable per history event (<order_id>:<seq>): consumers dedupe redeliveries by it",
    )
    type: str = Field(description="the history event type, also the EventBridge detail-type")
    order_id: str
    platform: str
    platform_order_id: str
    buyer_id: str | None = Field(default=None, description="the platform's buyer id (no name/phone/address)")
    seq: int = Field(ge=1, description="the event's position in the order's history: order per order by seq")
    occurred_at: datetime
    status: OrderStatus = Field(description="the order's status after the event")
    previous_status: OrderStatus | None = None
    actor: str = Field(description="stage:<name>, platform:<name>, a staff user id, or a timer")
    data: dict[str, Any] = {}


class FulfilmentUpdate(BaseModel):
    """`detail` of a `fulfilment.updated` event: a shipment status, in the form a marketplace connector
    pushes back to the platform (发货回传 / fulfilment update)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: str = Field(pattern=EVENT_ID_PATTERN, description="<order_id>:<seq>:<shipment_id>")
    type: Literal["fulfilment.updated"] = FULFILMENT_UPDATED
    source_event_id: str = Field(description="the history event it was derived from")
    order_id: str
    platform: str
    platform_order_id: str
    shipment_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    shipment_status: ShipmentStatus
    occurred_at: datetime
    seq: int = Field(ge=1)
    channel: Literal["api", "connector"] = Field(
        default="api",
        description="connector: the order was captured by a channel connector, which pushes this update "
        "back to the platform; api: the platform POSTed the order and is told by webhook",
    )


def event_id(order_id: str, seq: int) -> str:
    return f"{order_id}:{seq}"


def data_of(event_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """`data` for a history event's detail: its type's allow-list, else ids and codes only. A detail
    that does not fit its type's model (a stage recorded something unexpected) falls back to ids and
    codes too: the outbox must never stall on one event (the schema test catches the mismatch)."""
    model = DATA_MODELS.get(event_type)
    if model is not None:
        try:
            return model.model_validate(detail).model_dump(mode="json", exclude_none=True)
        except ValidationError:
            pass
    return generic_data(detail)


def _envelope(order: OrderRef, event: HistoryEvent) -> dict[str, Any]:
    """What every published form of a history event names: the order's ids, the event's place and time."""
    return {
        "order_id": order.order_id,
        "platform": order.platform,
        "platform_order_id": order.platform_order_id,
        "seq": event.seq,
        "occurred_at": event.at,
    }


def integration_event(order: OrderRef, event: HistoryEvent) -> IntegrationEvent:
    return IntegrationEvent(
        event_id=event_id(order.order_id, event.seq),
        type=event.type,
        buyer_id=order.buyer_id,
        status=event.to_status,
        previous_status=event.from_status,
        actor=event.actor,
        data=data_of(event.type, event.detail),
        **_envelope(order, event),
    )


def fulfilment_updates(order: OrderRef, event: HistoryEvent) -> list[FulfilmentUpdate]:
    """The marketplace form of a shipping status change: one per shipment the event is about (none when
    the detail does not name its shipments as documented). order.delivered pushes nothing: each parcel's
    own shipment.delivered already carried its carrier and tracking number."""
    try:
        return _fulfilment_updates(order, event)
    except ValidationError:
        return []


def _fulfilment_updates(order: OrderRef, event: HistoryEvent) -> list[FulfilmentUpdate]:
    shipments: list[tuple[ShipmentRef, str]] = []
    if event.type == "order.shipped":
        shipped = ShippedData.model_validate(event.detail)
        shipments = [(s, "shipped") for s in shipped.shipments]
    elif event.type.startswith("shipment.") and event.type in DATA_MODELS:
        data = ShipmentStatusData.model_validate(event.detail)
        ref = ShipmentRef(
            shipment_id=data.shipment_id, tracking_number=data.tracking_number, carrier=data.carrier
        )
        shipments = [(ref, event.type.split(".", 1)[1])]
    source = event_id(order.order_id, event.seq)
    return [
        FulfilmentUpdate(
            event_id=f"{source}:{ref.shipment_id}",
            source_event_id=source,
            shipment_status=status,
            channel=order.channel,
            **ref.model_dump(),
            **_envelope(order, event),
        )
        for ref, status in shipments
    ]


def bus_entries(order: OrderRef, event: HistoryEvent) -> list[tuple[str, dict[str, Any]]]:
    """(detail-type, detail) of everything one history event publishes, in order."""
    main = integration_event(order, event)
    entries: list[tuple[str, dict[str, Any]]] = [(main.type, main.model_dump(mode="json"))]
    entries += [(FULFILMENT_UPDATED, u.model_dump(mode="json")) for u in fulfilment_updates(order, event)]
    return entries
