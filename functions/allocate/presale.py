"""Pre-sale (预售): an order whose platform promised to ship after a date is not allocated before it.

Allocation answers "backordered" with a wait until `flags.ships_after`, so the execution parks in its
AwaitStock task; the task's own timeout (`allocation.wait_seconds`, a durable Step Functions timer) brings
it back to Allocate on that date, which then reserves and ships as for any order. No hold: nobody has to
decide anything. The order waits as BACKORDERED with reason PRESALE and on no SKU's waitlist, so no
restock wakes it early.
"""

from __future__ import annotations

import math
from datetime import datetime

from functions.core import repository
from functions.core.models.orders import AllocationInfo, Order, RuleHit
from functions.core.repository import OrderChange, PriorChange
from functions.core.status import OrderStatus

PRESALE = "PRESALE"


def waiting_until(order: Order, now: datetime) -> datetime | None:
    """The date the order still waits for before it may be allocated, or None (now). Pure."""
    ships_after = order.flags.ships_after if order.flags else None
    return ships_after if ships_after is not None and ships_after > now else None


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def wait_for_date(
    order: Order,
    ships_after: datetime,
    actor: str,
    rules_version: int,
    execution_id: str | None,
    prior: PriorChange | None = None,
) -> RuleHit:
    """Record that the order waits for its ships_after date (once: a retried task writes nothing), after
    `prior` (review's approval) when it is written with this change."""
    reason = RuleHit(code=PRESALE, message=f"pre-sale: allocated from {ships_after.isoformat()}")
    if order.status == OrderStatus.BACKORDERED and order.allocation and order.allocation.reason == reason:
        return reason
    # The backorder clock (backorder_max_hours) starts on the date the order may ship, not before.
    info = AllocationInfo(
        outcome="backordered", reason=reason, backordered_since=ships_after, rules_version=rules_version
    )
    repository.apply_changes(
        [
            OrderChange(
                order=order,
                target=OrderStatus.BACKORDERED,
                event_type="stock.backordered",
                actor=actor,
                execution_id=execution_id,
                detail={"code": PRESALE, "ships_after": ships_after.isoformat(), "short": []},
                set_fields={"allocation": info.model_dump(mode="json")},
                prior=prior,
            )
        ]
    )
    return reason
