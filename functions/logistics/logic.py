"""Logistics exception decisions, pure: case ids, what a resolution does."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.core.models.shipping import ExceptionCase, ShipmentTracking
from functions.core.models.stock import Reservation

Kind = Literal["damaged", "lost", "delayed"]
Action = Literal["reship", "refund", "dismiss"]
EXCEPTION_ID_PATTERN = r"^exc-[0-9a-f]{24}$"


class ResolveIn(BaseModel):
    """POST /exceptions/{id}/resolve."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    action: Action
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


def exception_id_for(shipment_id: str, kind: Kind, occurrence: str = "") -> str:
    """Deterministic: the same damage (or loss) of a parcel reported twice is one case; a delay is one
    case per stall (`occurrence` = the SLA deadline that passed)."""
    digest = hashlib.sha256(f"{shipment_id}\x1f{kind}\x1f{occurrence}".encode()).hexdigest()
    return f"exc-{digest[:24]}"


def writes_off(case: ExceptionCase, action: Action) -> bool:
    """Damaged or lost goods never come back: once ops reship or refund them they are written off.
    A dismissal (the carrier found the parcel) and a delay (it may still arrive) write off nothing."""
    return case.kind in ("damaged", "lost") and action in ("reship", "refund")


def writeoff_lines(lines: Iterable[Reservation]) -> list[Reservation]:
    """Units per (sku, warehouse) of the parcel, merged across the orders it carried."""
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        totals[(line.sku, line.warehouse)] = totals.get((line.sku, line.warehouse), 0) + line.quantity
    return [Reservation(sku=s, warehouse=w, quantity=q) for (s, w), q in sorted(totals.items())]


def watched(tracking: ShipmentTracking) -> bool:
    """Whether the delay check should watch the parcel: not once it is damaged or lost (its case is
    what happens to it now). A parcel flagged delayed is watched again as soon as it moves."""
    gone = {exception_id_for(tracking.shipment_id, kind) for kind in ("damaged", "lost")}
    return not gone & set(tracking.exception_ids)
