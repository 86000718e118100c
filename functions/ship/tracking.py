"""Tracking decisions, pure: what a carrier event does to a shipment, and what the order's delivery is.

A shipment's status only moves forward by rank; carriers resend events and deliver them out of order,
so an event that is not newer than what the shipment already is gets recorded and changes nothing.

    created (0) -> picked (1) -> shipped (2) -> in_transit (3) -> out_for_delivery (4) -> delivered (5)
                                                                   failed (4)

`failed` (a delivery attempt failed) ranks with `out_for_delivery`: between the two, the newer event
(by occurred_at) wins, so a re-delivery after a failed attempt moves on. `delivered` is final.
`damaged` and `lost` are not statuses: they open a logistics exception (functions/logistics).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from functions.core.models.orders import DeliverySummary

CREATED = "created"
DELIVERED = "delivered"
RANK: dict[str, int] = {
    CREATED: 0,
    "picked": 1,
    "shipped": 2,
    "in_transit": 3,
    "out_for_delivery": 4,
    "failed": 4,
    DELIVERED: 5,
}
FINAL = frozenset({DELIVERED})
EXCEPTION_EVENTS = frozenset({"damaged", "lost"})

Effect = Literal["advance", "progress", "stale", "exception"]


@dataclass(frozen=True)
class Decision:
    effect: Effect
    reason: str


def decide(current: str, current_at: datetime, event_status: str, occurred_at: datetime) -> Decision:
    """What a (new, not duplicate) carrier event does to a shipment now in `current` since `current_at`.

    advance: the status changes; progress: a newer scan of the same status (the SLA clock restarts);
    stale: older or lower than what the shipment is (recorded only); exception: damaged or lost.
    """
    if event_status in EXCEPTION_EVENTS:
        return Decision("exception", f"carrier reports the parcel {event_status}")
    if current in FINAL:
        return Decision("stale", f"shipment already {current}")
    rank, now_rank = RANK[event_status], RANK.get(current, 0)
    if rank > now_rank:
        return Decision("advance", f"{current} -> {event_status}")
    if rank < now_rank:
        return Decision("stale", f"{event_status} ranks below {current}")
    if occurred_at <= current_at:
        return Decision("stale", f"{event_status} at {occurred_at.isoformat()} is not newer than {current}")
    if event_status != current:
        return Decision("advance", f"{current} -> {event_status} (newer)")
    return Decision("progress", f"another {current} scan")


def progress_due(sla_hours: int, progress_at: datetime, now: datetime) -> datetime:
    """When a shipment that progressed at `progress_at` is overdue (a carrier clock ahead of ours counts
    as now)."""
    return min(progress_at, now) + timedelta(hours=sla_hours)


def delivery_summary(statuses: Mapping[str, str], at: datetime | None = None) -> DeliverySummary:
    """The order's delivery at a glance from its shipments' statuses (virtual ones are "delivered").

    `at`: when the last shipment was delivered, recorded once the state is "delivered".
    """
    delivered = sum(1 for status in statuses.values() if status == DELIVERED)
    total = len(statuses)
    state: Literal["pending", "partial", "delivered"] = (
        "delivered" if total and delivered == total else "partial" if delivered else "pending"
    )
    return DeliverySummary(
        shipments=dict(sorted(statuses.items())),
        delivered=delivered,
        total=total,
        state=state,
        delivered_at=at if state == "delivered" else None,
    )


def order_events(
    before: DeliverySummary, after: DeliverySummary, shipment_event: str
) -> list[tuple[str, bool]]:
    """The history events one shipment's change writes on one order: (type, moves order to DELIVERED).

    Always the shipment's own event; then order.delivered when the last shipment arrived, or
    order.partially_delivered when one more (but not the last) did.
    """
    events = [(shipment_event, False)]
    if after.state == "delivered" and before.state != "delivered":
        events.append(("order.delivered", True))
    elif after.delivered > before.delivered:
        events.append(("order.partially_delivered", False))
    return events
