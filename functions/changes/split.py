"""Split an order by hand (ops): move whole lines into a second shipment group, so they leave in their
own parcel (a fragile item apart, what is in stock first), before shipment.

A shipment group, not a child order: the order stays one sale (one payment, one refund ledger, one
platform order to confirm, one history), as Sterling's and Shopify's fulfilment groups keep it; only the
parcels differ. No stock moves: the lines' reservations are marked with their group in one transaction
with the order's change, and the Ship step makes one parcel per warehouse and group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.changes.logic import REFERENCE, admit_change
from functions.core import clock, repository
from functions.core.errors import RefusedError
from functions.core.models.base import Sku
from functions.core.models.orders import ChangeRecord, Order
from functions.core.models.stock import Reservation
from functions.core.observability import bind_platform
from functions.core.repository import ReadAgain, TransactionRejected

ATTEMPTS = 5


class SplitIn(BaseModel):
    """Body of POST /orders/{id}/changes/split."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    skus: list[Sku] = Field(
        min_length=1, max_length=100, description="the lines that leave in a parcel apart"
    )
    reason: str = Field(min_length=1, max_length=500)
    reference: str = Field(pattern=REFERENCE, description="the caller's id of this change (idempotency)")

    @field_validator("skus")
    @classmethod
    def _unique(cls, skus: list[str]) -> list[str]:
        if len(skus) != len(set(skus)):
            raise ValueError("each sku may appear once")
        return skus

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def plan_split(
    order: Order, reservations: Sequence[Reservation], request: SplitIn
) -> tuple[int, list[Reservation]]:
    """The new group's number and the reservations that move into it (pure)."""
    by_sku = {line.sku: line for line in order.lines}
    unknown = [(i, sku) for i, sku in enumerate(request.skus) if sku not in by_sku]
    if unknown:
        raise RefusedError(
            "UNKNOWN_LINE",
            f"order {order.order_id} has no line {', '.join(sku for _, sku in unknown)}",
            422,
            fields=[{"field": f"skus[{i}]", "message": f"no line {sku}"} for i, sku in unknown],
        )
    virtual = [(i, sku) for i, sku in enumerate(request.skus) if by_sku[sku].virtual]
    if virtual:
        raise RefusedError(
            "VIRTUAL_LINE",
            "virtual lines ship without a parcel",
            422,
            fields=[{"field": f"skus[{i}]", "message": f"{sku} is virtual"} for i, sku in virtual],
        )
    if order.merge is not None and len(order.merge.orders) > 1:
        raise RefusedError(
            "MERGED_ORDER", f"order {order.order_id} ships with other orders (合单): split it apart first"
        )
    if not reservations:
        raise RefusedError(
            "NOT_ALLOCATED", f"order {order.order_id} is {order.status}: split it once its stock is reserved"
        )
    moving = [r for r in reservations if r.sku in request.skus]
    if len(moving) == len(reservations):
        raise RefusedError(
            "NOTHING_LEFT", "every parcel line would move: keep at least one line in the first group", 422
        )
    group = max((r.group or 1 for r in reservations), default=1) + 1
    return group, moving


@dataclass(frozen=True)
class SplitResult:
    order: Order
    repeated: bool
    group: int | None  # None for a repeat


def split_order(order_id: str, request: SplitIn, actor: str) -> SplitResult:
    fingerprint = request.fingerprint()

    def attempt() -> SplitResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        bind_platform(order.platform)
        earlier = admit_change(order, request.reference, fingerprint)
        if earlier is not None:
            return SplitResult(order, repeated=True, group=None)
        group, moving = plan_split(order, aggregate.reservations, request)
        record = ChangeRecord(
            reference=request.reference, kind="split", fingerprint=fingerprint, actor=actor, at=clock.now()
        )
        try:
            updated = repository.annotate(
                order,
                event_type="order.split",
                actor=actor,
                set_fields={"changes": [c.model_dump(mode="json") for c in (*order.changes, record)]},
                detail={
                    "reason": request.reason,
                    "reference": request.reference,
                    "group": group,
                    "lines": [
                        {"sku": r.sku, "warehouse": r.warehouse, "quantity": r.quantity} for r in moving
                    ],
                },
                extra_items=[repository.reservation_group_item(order_id, r, group) for r in moving],
            )
        except TransactionRejected:
            raise ReadAgain from None  # a reservation moved (shipped, changed): read again
        if updated is None:
            raise ReadAgain
        return SplitResult(updated, repeated=False, group=group)

    return repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while it was split; retry"
    )
