"""Sourcing decisions, pure: stock levels and rules in, a plan out. No AWS here (unit-tested without moto).

- which warehouses serve an order: fewest shipments first, then the warehouse serving the shipping
  region, then warehouse priority, then the one holding most of the order;
- how a reservation is spread over the counter items ("shards") of a hot SKU;
- how a counted on-hand figure is spread over those shards;
- what happens when stock is short: reject, or backorder until a bounded deadline;
- which orders may ship together (合单): same platform buyer, same address.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import combinations
from typing import Literal

from pydantic import BaseModel

from functions.core.models.order_in import Address, OrderLine
from functions.core.models.orders import RuleHit, ShortLine
from functions.core.models.stock import Reservation, StockLevel

# Exact search for the fewest warehouses is combinatorial; past this many candidate sets, go greedy.
MAX_EXACT_COMBINATIONS = 5_000


@dataclass(frozen=True)
class SourcingPolicy:
    """The allocation rules sourcing needs (a plain value, so this module never imports the rule store)."""

    warehouse_priority: Sequence[str] = ()
    warehouse_regions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    allow_split: bool = True


@dataclass(frozen=True)
class Destination:
    region: str | None = None
    country: str | None = None

    @classmethod
    def of(cls, address: Address) -> Destination:
        return cls(region=address.region, country=address.country)


class AllocationPlan(BaseModel):
    """`allocated`: reservations cover every physical line. `short`: not enough stock anywhere.
    `needs_split`: enough stock, but only across warehouses, and splitting is not allowed."""

    outcome: Literal["allocated", "short", "needs_split"]
    reservations: list[Reservation] = []
    short: list[ShortLine] = []

    @property
    def complete(self) -> bool:
        return self.outcome == "allocated"

    @property
    def warehouses(self) -> list[str]:
        return sorted({r.warehouse for r in self.reservations})

    @property
    def split(self) -> bool:
        return len(self.warehouses) > 1


def physical_lines(lines: Sequence[OrderLine]) -> list[OrderLine]:
    return [line for line in lines if not line.virtual]


def serves(warehouse: str, policy: SourcingPolicy, destination: Destination) -> bool:
    regions = policy.warehouse_regions.get(warehouse, ())
    return bool(regions) and (destination.region in regions or destination.country in regions)


def rank_warehouses(
    warehouses: Sequence[str],
    need: Mapping[str, int],
    available: Mapping[tuple[str, str], int],
    policy: SourcingPolicy,
    destination: Destination,
) -> list[str]:
    """Best first: serves the region, then listed priority, then most of this order, most stock, name."""
    priority = {wh: i for i, wh in enumerate(policy.warehouse_priority)}

    def key(wh: str) -> tuple[int, int, int, int, str]:
        servable = sum(min(available.get((sku, wh), 0), q) for sku, q in need.items())
        total = sum(available.get((sku, wh), 0) for sku in need)
        return (
            0 if serves(wh, policy, destination) else 1,
            priority.get(wh, len(priority)),
            -servable,
            -total,
            wh,
        )

    return sorted(warehouses, key=key)


def plan_allocation(
    lines: Sequence[OrderLine],
    stock: Mapping[str, Sequence[StockLevel]],
    policy: SourcingPolicy,
    destination: Destination | None = None,
) -> AllocationPlan:
    """Source every physical line, from as few warehouses as possible.

    One warehouse that has everything wins (the best ranked one). Otherwise, if splitting is allowed,
    the smallest set of warehouses that together hold everything (ties: the best ranked set); within it
    each line comes whole from the best ranked warehouse that has it all, or is split by quantity.
    Virtual lines need no warehouse and are never short.
    """
    destination = destination or Destination()
    physical = physical_lines(lines)
    if not physical:
        return AllocationPlan(outcome="allocated")
    need = {line.sku: line.quantity for line in physical}
    available: dict[tuple[str, str], int] = {}
    for sku in need:
        for level in stock.get(sku, ()):
            if level.available > 0:
                available[(sku, level.warehouse)] = available.get((sku, level.warehouse), 0) + level.available

    short = [
        ShortLine(sku=sku, requested=q, available=total)
        for sku, q in need.items()
        if (total := sum(a for (s, _), a in available.items() if s == sku)) < q
    ]
    if short:
        return AllocationPlan(outcome="short", short=short)

    ranked = rank_warehouses(sorted({wh for _, wh in available}), need, available, policy, destination)
    for wh in ranked:
        if all(available.get((sku, wh), 0) >= q for sku, q in need.items()):
            return AllocationPlan(
                outcome="allocated",
                reservations=[
                    Reservation(sku=line.sku, warehouse=wh, quantity=line.quantity) for line in physical
                ],
            )
    if not policy.allow_split:
        return AllocationPlan(outcome="needs_split")

    chosen = _fewest_warehouses(ranked, need, available)
    reservations: list[Reservation] = []
    for line in physical:
        whole = next((wh for wh in chosen if available.get((line.sku, wh), 0) >= line.quantity), None)
        if whole is not None:
            reservations.append(Reservation(sku=line.sku, warehouse=whole, quantity=line.quantity))
            continue
        left = line.quantity
        for wh in chosen:
            take = min(left, available.get((line.sku, wh), 0))
            if take:
                reservations.append(Reservation(sku=line.sku, warehouse=wh, quantity=take))
                left -= take
            if not left:
                break
    return AllocationPlan(outcome="allocated", reservations=reservations)


def _covers(subset: Sequence[str], need: Mapping[str, int], available: Mapping[tuple[str, str], int]) -> bool:
    return all(sum(available.get((sku, wh), 0) for wh in subset) >= q for sku, q in need.items())


def _fewest_warehouses(
    ranked: Sequence[str], need: Mapping[str, int], available: Mapping[tuple[str, str], int]
) -> list[str]:
    """The smallest covering set, best ranked first (combinations keep the ranked order); greedy if huge."""
    for size in range(2, len(ranked) + 1):
        if math.comb(len(ranked), size) > MAX_EXACT_COMBINATIONS:
            break
        for subset in combinations(ranked, size):
            if _covers(subset, need, available):
                return list(subset)
    chosen: list[str] = []
    missing = dict(need)
    while any(q > 0 for q in missing.values()):
        best = max(
            (wh for wh in ranked if wh not in chosen),
            key=lambda wh: sum(min(available.get((sku, wh), 0), q) for sku, q in missing.items()),
        )
        chosen.append(best)
        for sku in missing:
            missing[sku] = max(0, missing[sku] - available.get((sku, best), 0))
    return [wh for wh in ranked if wh in chosen]


# ---------------------------------------------------------------- hot SKU: sharded stock counters


def shard_order(key: str, active: int, total: int) -> list[int]:
    """The shards a reservation tries, in order: a start picked by hashing `key` (so concurrent orders
    spread over the shards), round the active ones, then any retired shard still holding stock."""
    active = max(1, active)
    start = zlib.crc32(key.encode()) % active
    return [(start + i) % active for i in range(active)] + list(range(active, total))


def assign_shards(
    key: str, quantity: int, shard_available: Sequence[int], active: int
) -> dict[str, int] | None:
    """How much of `quantity` each shard gives (shard index as a string -> units), None if they cannot.

    Takes as much as it can from the first shard in `shard_order`, then the next: one item in the
    common case, a spill-over only when a shard runs dry.
    """
    taken: dict[str, int] = {}
    left = quantity
    for shard in shard_order(key, active, len(shard_available)):
        take = min(left, max(0, shard_available[shard]))
        if take:
            taken[str(shard)] = take
            left -= take
        if not left:
            return taken
    return None


class BelowReservedError(ValueError):
    """A counted on-hand figure below what orders already hold: refused, nothing written."""


def distribute_on_hand(target: int, reserved: Sequence[int], active: int) -> list[int]:
    """New on_hand per shard so they add up to `target`; each keeps what it has reserved.

    `reserved[k]` is shard k's reserved units (existing shards); the result covers max(len(reserved),
    active) shards. What is free is spread evenly over the active shards; retired shards keep only their
    reservations, so they drain as those ship or are released.
    """
    if target < 0:
        raise BelowReservedError(f"on_hand {target} is negative")
    count = max(len(reserved), active)
    held = [reserved[k] if k < len(reserved) else 0 for k in range(count)]
    free = target - sum(held)
    if free < 0:
        raise BelowReservedError(f"on_hand {target} is below the {sum(held)} units already reserved")
    base, extra = divmod(free, active)
    return [held[k] + ((base + (1 if k < extra else 0)) if k < active else 0) for k in range(count)]


# ---------------------------------------------------------------- short stock: reject or backorder


@dataclass(frozen=True)
class BackorderPolicy:
    out_of_stock: Literal["backorder", "reject"] = "reject"
    retry_minutes: int = 60
    max_hours: int = 72
    max_attempts: int = 200


@dataclass(frozen=True)
class ShortDecision:
    action: Literal["wait", "reject"]
    reason: RuleHit
    wait_seconds: int = 0


def describe_short(short: Sequence[ShortLine]) -> str:
    return ", ".join(f"{s.sku} (need {s.requested}, available {s.available})" for s in short)


def decide_short(
    plan: AllocationPlan,
    policy: BackorderPolicy,
    *,
    backordered_since: datetime | None,
    attempts: int,
    now: datetime,
) -> ShortDecision:
    """What to do with an order sourcing could not serve now.

    Not enough stock anywhere: reject, or (rule `out_of_stock: backorder`) wait. Enough, but only by
    splitting while splitting is off: wait for one warehouse to have it all. Waiting is bounded by
    `max_hours` since the order was first backordered and by `max_attempts`; past either, reject.
    """
    if plan.outcome == "short" and policy.out_of_stock == "reject":
        return ShortDecision("reject", RuleHit(code="OUT_OF_STOCK", message=describe_short(plan.short)))
    since = backordered_since or now
    deadline = since + timedelta(hours=policy.max_hours)
    if plan.outcome == "short":
        why = f"waiting for stock: {describe_short(plan.short)}"
    else:
        why = "no single warehouse has every line and splitting is off: waiting for one that has"
    if now >= deadline or attempts >= policy.max_attempts:
        return ShortDecision(
            "reject",
            RuleHit(
                code="BACKORDER_EXPIRED",
                message=f"backordered since {since.isoformat()}, {attempts} attempts; still {why}",
            ),
        )
    wait = min(policy.retry_minutes * 60, math.ceil((deadline - now).total_seconds()))
    code = "BACKORDERED" if plan.outcome == "short" else "SPLIT_NOT_ALLOWED"
    return ShortDecision("wait", RuleHit(code=code, message=why), max(1, wait))


# ---------------------------------------------------------------- 合单: merge key


def _normalised(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().casefold())


def merge_key(platform: str, buyer_id: str, address: Address) -> str:
    """Same platform buyer, same address (case and spacing ignored) -> same key. A hash: no PII in keys."""
    parts = [
        platform,
        buyer_id,
        *(
            _normalised(getattr(address, name))
            for name in ("name", "phone", "line1", "line2", "city", "region", "postal_code", "country")
        ),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def merge_wait_seconds(closes_at: datetime, now: datetime) -> int:
    """Seconds until a merge group closes (0 when it already has)."""
    return max(0, math.ceil((closes_at - now).total_seconds()))
