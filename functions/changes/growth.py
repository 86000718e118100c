"""More units for an order that already holds its stock (a quantity raised, a line added): where they
come from. Pure: the order's reservations and the SKUs' counter shards in, the units to take per
warehouse and shard out, or 409 OUT_OF_STOCK naming the SKU.

Short stock refuses the change rather than backordering it: the order already holds everything else
and may be waiting for its payment or parcel; sending it back to wait would hold that stock hostage to
the new units. The caller decides (lower the quantity, or a separate order that may backorder).
The order's own warehouses come first (no new parcel), then the rule set's warehouse priority, then the
warehouse with the most; within a warehouse the counter shards new reservations use, fullest first.
The conditional writes (available >= what is taken) make the plan safe against concurrent orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from functions.core.errors import RefusedError
from functions.core.models.stock import Reservation, StockShard


@dataclass(frozen=True)
class ReservationGrowth:
    before: Reservation | None  # the order's reservation of the SKU in that warehouse, if any
    added: Reservation  # the units taken now (per shard)


def _warehouse_order(
    shards: Sequence[StockShard], mine: Sequence[str], preferred: Sequence[str]
) -> list[str]:
    available: dict[str, int] = {}
    for s in shards:
        available[s.warehouse] = available.get(s.warehouse, 0) + max(s.available, 0)

    def rank(warehouse: str) -> tuple[int, int, int, str]:
        own = 0 if warehouse in mine else 1
        priority = preferred.index(warehouse) if warehouse in preferred else len(preferred)
        return own, priority, -available[warehouse], warehouse

    return sorted(available, key=rank)


def _take(shards: Sequence[StockShard], warehouse: str, need: int) -> dict[int, int]:
    here = [s for s in shards if s.warehouse == warehouse]
    head = next((s for s in here if s.shard == 0), None)
    active = head.active if head is not None else 1
    taken: dict[int, int] = {}
    for s in sorted(here, key=lambda s: (-s.available, s.shard)):
        if need <= 0:
            break
        if s.shard >= active or s.available <= 0:
            continue
        part = min(need, s.available)
        taken[s.shard] = part
        need -= part
    return taken


def plan_growth(
    needs: Mapping[str, int],
    reservations: Sequence[Reservation],
    shards_by_sku: Mapping[str, Sequence[StockShard]],
    preferred: Sequence[str],
) -> list[ReservationGrowth]:
    mine = sorted({r.warehouse for r in reservations})
    growth: list[ReservationGrowth] = []
    short: list[tuple[str, int, int]] = []
    for sku, need in needs.items():
        if need <= 0:
            continue
        shards = shards_by_sku.get(sku, [])
        planned: list[ReservationGrowth] = []
        left = need
        for warehouse in _warehouse_order(shards, mine, preferred):
            taken = _take(shards, warehouse, left)
            units = sum(taken.values())
            if not units:
                continue
            left -= units
            before = next((r for r in reservations if r.sku == sku and r.warehouse == warehouse), None)
            sharded = any(k > 0 for k in taken) or (before is not None and before.shards is not None)
            added = Reservation(
                sku=sku,
                warehouse=warehouse,
                quantity=units,
                shards={str(k): q for k, q in sorted(taken.items())} if sharded else None,
            )
            planned.append(ReservationGrowth(before=before, added=added))
            if left <= 0:
                break
        if left > 0:
            short.append((sku, need, need - left))
        growth += planned
    if short:
        raise RefusedError(
            "OUT_OF_STOCK",
            "not enough stock for " + ", ".join(f"{sku} ({got} of {need} more)" for sku, need, got in short),
            409,
            fields=[
                {"field": "lines", "sku": sku, "message": f"{got} of {need} available"}
                for sku, need, got in short
            ],
        )
    return growth
