"""Sourcing: which warehouse serves each line. Pure: stock levels in, a plan out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from functions.core.models import OrderLine, Reservation, StockLevel


class AllocationPlan(BaseModel):
    reservations: list[Reservation] = []
    short: list[str] = []  # SKUs no warehouse can serve in full

    @property
    def complete(self) -> bool:
        return not self.short


def plan_allocation(
    lines: Sequence[OrderLine], stock: Mapping[str, Sequence[StockLevel]], preferred_warehouse: str
) -> AllocationPlan:
    """Each line from one warehouse: the preferred one if it can, else the one with most available."""
    plan = AllocationPlan()
    for line in lines:
        candidates = [s for s in stock.get(line.sku, ()) if s.available >= line.quantity]
        if not candidates:
            plan.short.append(line.sku)
            continue
        best = min(candidates, key=lambda s: (s.warehouse != preferred_warehouse, -s.available, s.warehouse))
        plan.reservations.append(Reservation(sku=line.sku, warehouse=best.warehouse, quantity=line.quantity))
    return plan
