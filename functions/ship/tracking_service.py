"""The carrier tracking webhook: POST /shipments/{id}/tracking, and GET /shipments/{id}.

Each carrier event is kept once (conditional put of its event id) in the same transaction as what it
changes: the parcel's tracking record (conditional on its version), and on every order the parcel
carries (合单: several) the history events and the delivery summary (conditional on the order's status
and version). A resent event finds its id taken and changes nothing; an event older or lower than the
parcel's status is kept but changes nothing (functions/ship/tracking.py decides).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel

from functions.core import application, clock, repository
from functions.core.errors import ConflictError, OrderNotFoundError, RefusedError
from functions.core.models.orders import DeliverySummary
from functions.core.models.shipping import KeptTrackingEvent, ShipmentTracking, TrackingEvent
from functions.core.observability import MetricName, count, emit, logger
from functions.core.repository import ReadAgain, TransactionRejected, Write, active_rules
from functions.core.status import OrderStatus, can_transition
from functions.logistics.logic import watched
from functions.ship.delivery import summary_of
from functions.ship.logic import VIRTUAL
from functions.ship.tracking import DELIVERED, decide, delivery_summary, order_events, progress_due

MAX_ROUNDS = 5

Outcome = Literal["applied", "progress", "recorded", "exception_opened", "duplicate"]


class TrackingResult(BaseModel):
    shipment_id: str
    event_id: str
    outcome: Outcome
    reason: str
    status: str  # the parcel's status after the event
    exception_id: str | None = None
    orders: dict[str, str] = {}  # order id -> its status after the event


def _fingerprint(event: TrackingEvent) -> str:
    return hashlib.sha256(event.model_dump_json().encode()).hexdigest()


def find_tracking(
    shipment_id: str, *, carrier: str | None = None, platform: str | None = None
) -> ShipmentTracking:
    """The parcel, if the caller may see it: a carrier only its own parcels, a platform only parcels of
    its orders (404 otherwise, exactly as for a parcel that does not exist)."""
    tracking = repository.get_tracking(shipment_id)
    if (
        tracking is None
        or (carrier is not None and tracking.carrier != carrier)
        or (platform is not None and platform not in tracking.platforms)
    ):
        raise RefusedError("NOT_FOUND", f"shipment {shipment_id} not found", status=404)
    return tracking


def _duplicate(tracking: ShipmentTracking, event: TrackingEvent, kept: KeptTrackingEvent) -> TrackingResult:
    if kept.fingerprint != _fingerprint(event):
        raise ConflictError(f"carrier event {event.event_id} was received before with other content")
    emit_tracking("duplicate")
    return TrackingResult(
        shipment_id=tracking.shipment_id,
        event_id=event.event_id,
        outcome="duplicate",
        reason=f"event {event.event_id} already received ({kept.outcome})",
        status=tracking.status,
        exception_id=kept.exception_id,
    )


def emit_tracking(outcome: str) -> None:
    emit(MetricName.TRACKING_EVENTS, 1, reason=outcome)


def record_event(shipment_id: str, event: TrackingEvent, *, carrier: str | None) -> TrackingResult:
    """Apply one carrier event to a parcel (idempotent by event id, tolerant of order)."""

    def attempt() -> TrackingResult:
        tracking = find_tracking(shipment_id, carrier=carrier)
        if event.tracking_number != tracking.tracking_number:
            raise RefusedError(
                "TRACKING_MISMATCH",
                f"tracking_number {event.tracking_number} is not shipment {shipment_id}'s",
                status=422,
            )
        kept = repository.get_tracking_event(shipment_id, event.event_id)
        if kept is not None:
            return _duplicate(tracking, event, kept)
        try:
            return _apply(tracking, event)
        except TransactionRejected as rejected:
            if rejected.failed(repository.TRACKING_EVENT_TAG):
                kept = repository.get_tracking_event(shipment_id, event.event_id)
                if kept is not None:  # the same event, racing itself
                    return _duplicate(tracking, event, kept)
            raise ReadAgain from None  # the parcel or one of its orders moved: read again and decide again

    return repository.retrying(
        attempt,
        rounds=MAX_ROUNDS,
        gave_up=f"shipment {shipment_id} kept changing while applying event {event.event_id}",
    )


def _apply(tracking: ShipmentTracking, event: TrackingEvent) -> TrackingResult:
    now = clock.now()
    decision = decide(tracking.status, tracking.status_at, event.status, event.occurred_at)
    reason = decision.reason
    sla = active_rules().carriers.sla_hours(tracking.carrier)
    items: list[Write] = []
    orders_after: dict[str, str] = {}
    exception_id: str | None = None
    status = tracking.status
    outcome: Outcome
    delivered_orders: list[str] = []
    if decision.effect == "stale":
        outcome = "recorded"
    elif decision.effect == "progress":
        outcome = "progress"
        items.append(
            repository.tracking_update_item(
                tracking,
                tracking.model_copy(
                    update={
                        "last_progress_at": event.occurred_at,
                        "progress_due": progress_due(sla, event.occurred_at, now)
                        if watched(tracking)
                        else None,
                    }
                ),
            )
        )
    elif decision.effect == "exception":
        kind: Literal["damaged", "lost"] = "damaged" if event.status == "damaged" else "lost"
        case = application.logistics_case_for(
            tracking,
            kind,
            f"carrier:{tracking.carrier}",
            "",
            {
                "carrier_event_id": event.event_id,
                "occurred_at": event.occurred_at.isoformat(),
                "status": tracking.status,
                **({"description": event.description} if event.description else {}),
                **({"location": event.location} if event.location else {}),
            },
        )
        if repository.get_exception(case.exception_id) is not None:
            outcome = "recorded"
            reason = f"a {kind} case is already open for this parcel ({case.exception_id})"
        else:
            outcome = "exception_opened"
            exception_id = case.exception_id
            orders = [repository.get_order(order_id) for order_id in tracking.order_ids]
            items += application.open_logistics_case_writes(
                case, tracking, orders, f"carrier:{tracking.carrier}"
            )
            orders_after = {o.order_id: o.status.value for o in orders}
    else:
        outcome = "applied"
        status = event.status
        after = tracking.model_copy(
            update={
                "status": event.status,
                "status_at": event.occurred_at,
                "last_progress_at": event.occurred_at,
                "progress_due": progress_due(sla, event.occurred_at, now)
                if event.status != DELIVERED and watched(tracking)
                else None,
            }
        )
        items.append(repository.tracking_update_item(tracking, after))
        detail = {
            "shipment_id": tracking.shipment_id,
            "carrier": tracking.carrier,
            "tracking_number": tracking.tracking_number,
            "status": event.status,
            "carrier_event_id": event.event_id,
            "occurred_at": event.occurred_at.isoformat(),
        }
        for order_id in tracking.order_ids:
            order = repository.get_order(order_id)
            before = summary_of(order)
            statuses = {**before.shipments, tracking.shipment_id: event.status}
            summary = delivery_summary(statuses, now)
            target = order.status
            events: list[tuple[str, dict[str, Any]]] = []
            for event_type, delivers in order_events(before, summary, f"shipment.{event.status}"):
                if event_type.startswith("order."):  # partially_delivered, delivered: the counts
                    events.append((event_type, {**_counts(summary), "shipment_id": tracking.shipment_id}))
                else:
                    events.append((event_type, detail))
                if delivers and can_transition(order.status, OrderStatus.DELIVERED):
                    target = OrderStatus.DELIVERED
                    delivered_orders.append(order.platform)
            change, updated = repository.order_events_change(
                order,
                target,
                events,
                actor=f"carrier:{tracking.carrier}",
                set_fields={"delivery": summary.model_dump(mode="json", exclude_none=True)},
            )
            items += change
            orders_after[order_id] = updated.status.value
    kept = KeptTrackingEvent(
        **event.model_dump(),
        received_at=now,
        fingerprint=_fingerprint(event),
        reason=reason,
        outcome=outcome,
        exception_id=exception_id,
    )
    repository.commit([repository.tracking_event_item(tracking.shipment_id, kept), *items])
    emit_tracking(outcome)
    for platform in delivered_orders:
        count(MetricName.ORDERS_DELIVERED, platform)
    if exception_id is not None:
        for platform in tracking.platforms:
            count(MetricName.LOGISTICS_EXCEPTIONS_OPENED, platform, reason=event.status)
    logger.info(
        "tracking event",
        extra={"shipment_id": tracking.shipment_id, "event_id": event.event_id, "outcome": outcome},
    )
    return TrackingResult(
        shipment_id=tracking.shipment_id,
        event_id=event.event_id,
        outcome=outcome,
        reason=reason,
        status=status,
        exception_id=exception_id,
        orders=orders_after,
    )


def _counts(summary: DeliverySummary) -> dict[str, Any]:
    return {"delivered": summary.delivered, "total": summary.total, "state": summary.state}


def shipment_view(shipment_id: str, *, platform: str | None) -> dict[str, Any]:
    """GET /shipments/{id}: the parcel's tracking record, its carrier events and its open cases."""
    if shipment_id.endswith(f"-{VIRTUAL}"):
        return _virtual_view(shipment_id, platform=platform)
    tracking = find_tracking(shipment_id, platform=platform)
    view = tracking.model_dump(mode="json")
    if platform is not None:  # a platform sees its own orders of a merged parcel only
        own = {o for o in tracking.order_ids if repository.get_order(o).platform == platform}
        view["order_ids"] = sorted(own)
        view["platforms"] = [platform]
    events = repository.tracking_events(shipment_id)
    view["events"] = [event.public() for event in events]
    return view


def _virtual_view(shipment_id: str, *, platform: str | None) -> dict[str, Any]:
    """A virtual shipment (虚拟出库) has no parcel and no carrier: it is delivered when it is created."""
    order_id = shipment_id.removesuffix(f"-{VIRTUAL}")
    missing = RefusedError("NOT_FOUND", f"shipment {shipment_id} not found", status=404)
    try:
        order = repository.get_order(order_id)
    except OrderNotFoundError:
        raise missing from None
    if platform is not None and order.platform != platform:
        raise missing
    shipments = [s for s in repository.load_aggregate(order_id).shipments if s.shipment_id == shipment_id]
    if not shipments:
        raise missing
    (shipment,) = shipments
    return {
        "shipment_id": shipment_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "warehouse": shipment.warehouse,
        "order_ids": [order_id],
        "platforms": [order.platform],
        "status": DELIVERED,
        "status_at": shipment.created_at.isoformat(),
        "virtual": True,
        "lines": [line.model_dump(mode="json") for line in shipment.lines],
        "created_at": shipment.created_at.isoformat(),
        "exception_ids": [],
        "events": [],
    }
