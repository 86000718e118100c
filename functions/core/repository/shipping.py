"""Shipping: parcels' tracking and logistics exception cases.

    SHIPMENT#<id> / TRACKING          one physical parcel's tracking state (functions/ship/tracking.py)
    SHIPMENT#<id> / TRK#<event id>    a carrier event, kept once (the conditional put is the idempotency)
    EXC#<id> / CASE                   a logistics exception case (functions/logistics)

QueueIndex (sparse, KEYS_ONLY) lists work: parcels whose tracking SLA is armed (see timers.ship_due_keys) and
exception cases by status (qpk EXC#<status>, qsk <opened at>#<id>).
"""

from __future__ import annotations

from functions.core.models.shipping import (
    ExceptionCase,
    ExceptionResolution,
    KeptTrackingEvent,
    ShipmentTracking,
)
from functions.core.repository._dynamo import (
    av,
    get,
    get_record,
    instant,
    item,
    items_of_entries,
    key,
    query_all,
    set_remove,
    without_keys,
)
from functions.core.repository.timers import QUEUE_INDEX, ship_due_keys
from functions.core.repository.unit_of_work import Write, put, update

TRACKING_SK = "TRACKING"
EXCEPTION_SK = "CASE"
TRACKING_TAG = "tracking"
TRACKING_EVENT_TAG = "tracking_event"
EXCEPTION_TAG = "exception"


def shipment_pk(shipment_id: str) -> str:
    return f"SHIPMENT#{shipment_id}"


def tracking_record_item(tracking: ShipmentTracking) -> Write:
    """A new parcel's tracking record (written once, in the Ship transaction), with its SLA armed."""
    keys = ship_due_keys(tracking.shipment_id, tracking.progress_due) if tracking.progress_due else {}
    return put(
        item(
            {
                "pk": shipment_pk(tracking.shipment_id),
                "sk": TRACKING_SK,
                **keys,
                **tracking.model_dump(mode="json", exclude_none=True),
            }
        ),
        "attribute_not_exists(pk)",
        tag=TRACKING_TAG,
    )


def get_tracking(shipment_id: str) -> ShipmentTracking | None:
    found = get(key(shipment_pk(shipment_id), TRACKING_SK))
    return ShipmentTracking.model_validate(found) if found is not None else None


def tracking_update_item(before: ShipmentTracking, after: ShipmentTracking) -> Write:
    """Move the parcel's record from `before` (its version must still be stored) to `after`; the SLA
    entry in QueueIndex follows `after.progress_due` (None: removed, the parcel is not watched)."""
    fields = after.model_dump(mode="json", exclude={"shipment_id", "created_at"})
    fields["version"] = before.version + 1
    remove = [name for name, value in fields.items() if value is None]
    fields = {k: v for k, v in fields.items() if v is not None}
    if after.progress_due is not None:
        fields.update(ship_due_keys(after.shipment_id, after.progress_due))
    else:
        remove += ["qpk", "qsk"]
    expression, names, values = set_remove(fields, remove)
    return update(
        key(shipment_pk(before.shipment_id), TRACKING_SK),
        expression,
        "#version = :expected_version",
        names={**names, "#version": "version"},
        values={**values, ":expected_version": av(before.version)},
        tag=TRACKING_TAG,
    )


def tracking_event_item(shipment_id: str, kept: KeptTrackingEvent) -> Write:
    """Keep a carrier event once: a second copy of the same event id fails this condition."""
    return put(
        item(
            {
                "pk": shipment_pk(shipment_id),
                "sk": f"TRK#{kept.event_id}",
                **kept.model_dump(mode="json", exclude_none=True),
            }
        ),
        "attribute_not_exists(pk)",
        tag=TRACKING_EVENT_TAG,
    )


def get_tracking_event(shipment_id: str, event_id: str) -> KeptTrackingEvent | None:
    found = get_record(key(shipment_pk(shipment_id), f"TRK#{event_id}"))
    return KeptTrackingEvent.model_validate(found) if found is not None else None


def tracking_events(shipment_id: str) -> list[KeptTrackingEvent]:
    """Every carrier event kept for the parcel (applied or not), in the order they happened."""
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :trk)",
        ExpressionAttributeValues={":pk": av(shipment_pk(shipment_id)), ":trk": av("TRK#")},
        ConsistentRead=True,
    )
    events = [KeptTrackingEvent.model_validate(without_keys(raw)) for raw in items]
    return sorted(events, key=lambda e: (e.occurred_at, e.received_at))


# ---------------------------------------------------------------- logistics exception cases


def _exception_queue_keys(case: ExceptionCase) -> dict[str, str]:
    return {"qpk": f"EXC#{case.status}", "qsk": f"{instant(case.opened_at)}#{case.exception_id}"}


def exception_item(case: ExceptionCase) -> Write:
    """Open a case once (its id is deterministic: the same damage reported twice is one case)."""
    return put(
        item(
            {
                "pk": f"EXC#{case.exception_id}",
                "sk": EXCEPTION_SK,
                **_exception_queue_keys(case),
                **case.model_dump(mode="json", exclude_none=True),
            }
        ),
        "attribute_not_exists(pk)",
        tag=EXCEPTION_TAG,
    )


def exception_resolve_item(case: ExceptionCase, resolution: ExceptionResolution) -> Write:
    """Resolve an open case (only while it is open: a second resolution fails this condition)."""
    resolved = case.model_copy(update={"status": "resolved", "resolution": resolution})
    keys = _exception_queue_keys(resolved)
    return update(
        key(f"EXC#{case.exception_id}", EXCEPTION_SK),
        "SET #status = :resolved, resolution = :resolution, qpk = :qpk, qsk = :qsk",
        "#status = :open",
        names={"#status": "status"},
        values={
            ":resolved": av("resolved"),
            ":open": av("open"),
            ":resolution": av(resolution.model_dump(mode="json", exclude_none=True)),
            ":qpk": av(keys["qpk"]),
            ":qsk": av(keys["qsk"]),
        },
        tag=EXCEPTION_TAG,
    )


def get_exception(exception_id: str) -> ExceptionCase | None:
    found = get(key(f"EXC#{exception_id}", EXCEPTION_SK))
    return ExceptionCase.model_validate(found) if found is not None else None


def list_exceptions(status: str, limit: int = 100) -> list[ExceptionCase]:
    """Cases in `status` (open, resolved), oldest first (QueueIndex, KEYS_ONLY: the cases are read by key)."""
    entries = query_all(
        max_items=limit,
        IndexName=QUEUE_INDEX,
        KeyConditionExpression="qpk = :pk",
        ExpressionAttributeValues={":pk": av(f"EXC#{status}")},
        Limit=limit,
    )
    wanted = f"EXC#{status}"
    items = items_of_entries(entries[:limit], still=lambda raw: raw.get("qpk") == wanted)
    return [ExceptionCase.model_validate(raw) for raw in items]
