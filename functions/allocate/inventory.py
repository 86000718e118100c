"""Inventory: stock syncs from a WMS/ERP, available-to-promise, the ledger and its audit.

A sync states the counted on-hand of one (SKU, warehouse). It is applied once per sync id; the
difference to what is recorded becomes a ledger movement (initial, restock or adjust), and orders
backordered on that SKU are woken, oldest first, as far as the new stock goes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.allocate.logic import BelowReservedError, distribute_on_hand
from functions.core import repository, workflow
from functions.core.errors import ConflictError
from functions.core.models.stock import StockLevel, StockMovement, StockShard
from functions.core.observability import logger
from functions.core.repository import ReadAgain, active_rules

MAX_SYNC_ROUNDS = 5
WAKE_BATCH = 100  # waitlist entries looked at per restock

WarehouseId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
SyncId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]


class StockSync(BaseModel):
    """The body of PUT /inventory/{sku}: the counted on-hand of one warehouse."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sync_id: SyncId
    warehouse: WarehouseId
    on_hand: int = Field(ge=0, le=1_000_000_000)
    # What the change is, for the ledger; by default a rise is a restock and a fall an adjustment.
    reason: Literal["restock", "adjust"] | None = None


class SyncOutcome(BaseModel):
    sku: str
    warehouse: str
    sync_id: str
    duplicate: bool
    on_hand: int
    movements: list[StockMovement] = []
    woken: int = 0


class BelowReservedConflict(ConflictError):
    """The counted stock is below what orders already hold."""


def sync_stock(sku: str, sync: StockSync) -> SyncOutcome:
    """Apply a counted on-hand once per sync id, spread over the SKU's counter shards; wake backorders."""
    rules = active_rules().allocation
    active = rules.hot_sku_shards.get(sku, 1)
    record = {"sync_id": sync.sync_id, "sku": sku, "warehouse": sync.warehouse, "on_hand": sync.on_hand}
    if sync.reason:
        record["reason"] = sync.reason

    def attempt() -> SyncOutcome:
        current = repository.get_stock_shards(sku, sync.warehouse)
        reserved = [0] * len(current)
        for s in current:
            reserved[s.shard] = s.reserved
        try:
            targets = distribute_on_hand(sync.on_hand, reserved, active)
        except BelowReservedError as err:
            raise BelowReservedConflict(f"{sku}@{sync.warehouse}: {err}") from err
        try:
            movements = repository.apply_stock_sync(
                sku,
                sync.warehouse,
                current=current,
                new_on_hand=targets,
                active=active,
                ref=sync.sync_id,
                kind=sync.reason,
                sync_record=record,
            )
        except repository.DuplicateSyncError as duplicate:
            if {k: duplicate.record.get(k) for k in record} != record:
                raise ConflictError(
                    f"sync {sync.sync_id} was already applied to {sku}@{sync.warehouse} with other content"
                ) from duplicate
            return SyncOutcome(
                sku=sku, warehouse=sync.warehouse, sync_id=sync.sync_id, duplicate=True, on_hand=sync.on_hand
            )
        except repository.StockChangedError:
            raise ReadAgain from None
        woken = wake_backorders(sku) if sum(m.on_hand_delta for m in movements) > 0 else 0
        logger.info("stock synced", extra={"sku": sku, "warehouse": sync.warehouse, "woken": woken})
        return SyncOutcome(
            sku=sku,
            warehouse=sync.warehouse,
            sync_id=sync.sync_id,
            duplicate=False,
            on_hand=sync.on_hand,
            movements=movements,
            woken=woken,
        )

    return repository.retrying(
        attempt,
        rounds=MAX_SYNC_ROUNDS,
        gave_up=f"{sku}@{sync.warehouse} kept changing during the sync; retry",
    )


def wake_backorders(sku: str) -> int:
    """Resume orders waiting for `sku`, longest waiting first, as long as their demand fits what is
    available now (at least one). Each entry is taken off the list once; a stale token is dropped."""
    available = sum(level.available for level in repository.get_stock(sku))
    woken, demand = 0, 0
    for entry in repository.waitlist(sku, limit=WAKE_BATCH):
        if woken and demand + int(entry["quantity"]) > available:
            break
        if not repository.remove_waitlist_entry(entry):
            continue
        if workflow.send_task_success(entry["task_token"], {"restocked": sku}):
            woken += 1
            demand += int(entry["quantity"])
    return woken


# ---------------------------------------------------------------- available to promise


class WarehouseStock(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    available: int  # available to promise from this warehouse
    shards: int


class InventoryView(BaseModel):
    sku: str
    available_to_promise: int
    warehouses: list[WarehouseStock]
    backorders: int  # orders waiting for a restock of this SKU


def inventory_of(sku: str) -> InventoryView:
    levels: list[StockLevel] = repository.get_stock(sku)
    return InventoryView(
        sku=sku,
        available_to_promise=sum(level.available for level in levels),
        warehouses=[
            WarehouseStock(
                warehouse=level.warehouse,
                on_hand=level.on_hand,
                reserved=level.reserved,
                available=level.available,
                shards=level.shards,
            )
            for level in levels
        ],
        backorders=len(repository.waitlist(sku, limit=1000)),
    )


# ---------------------------------------------------------------- audit: counters against the ledger


class CounterAudit(BaseModel):
    """One counter item checked against its ledger and the open reservations of the orders."""

    warehouse: str
    shard: int
    on_hand: int
    reserved: int
    available: int
    ledger_on_hand: int  # initial + restocks + adjustments - shipped, from the ledger
    ledger_reserved: int  # reserved - released - shipped, from the ledger
    open_reservations: int  # what orders' reservation items hold on this counter
    by_kind: dict[str, int]  # on-hand change per kind of movement
    ok: bool


def audit_counters(
    counters: list[StockShard], movements: list[StockMovement], open_reservations: dict[tuple[str, int], int]
) -> list[CounterAudit]:
    """Pure: each counter must equal the sum of its ledger, and its reserved the open reservations."""
    on_hand: dict[tuple[str, int], int] = defaultdict(int)
    reserved: dict[tuple[str, int], int] = defaultdict(int)
    by_kind: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in movements:
        key = (m.warehouse, m.shard)
        on_hand[key] += m.on_hand_delta
        reserved[key] += m.reserved_delta
        by_kind[key][m.kind] += m.on_hand_delta
    audits = []
    for c in counters:
        key = (c.warehouse, c.shard)
        held = open_reservations.get(key, 0)
        ok = (
            c.on_hand == on_hand[key]
            and c.reserved == reserved[key] == held
            and c.available == c.on_hand - c.reserved
            and min(c.on_hand, c.reserved, c.available) >= 0
        )
        audits.append(
            CounterAudit(
                warehouse=c.warehouse,
                shard=c.shard,
                on_hand=c.on_hand,
                reserved=c.reserved,
                available=c.available,
                ledger_on_hand=on_hand[key],
                ledger_reserved=reserved[key],
                open_reservations=held,
                by_kind=dict(by_kind[key]),
                ok=ok,
            )
        )
    return audits


def audit_stock(sku: str) -> list[CounterAudit]:
    """Read the counters, the ledger and the reservation items of every order the ledger says still
    holds stock (plus any it names), and check them against each other."""
    counters = repository.get_stock_shards(sku)
    movements = repository.stock_ledger(sku)
    held_by_ledger: dict[str, int] = defaultdict(int)
    for m in movements:
        if m.kind in {"reserve", "release", "ship"}:
            held_by_ledger[m.ref] += m.reserved_delta
    open_reservations: dict[tuple[str, int], int] = defaultdict(int)
    for order_id, held in held_by_ledger.items():
        if held == 0:
            continue
        for r in repository.load_aggregate(order_id).reservations:
            if r.sku != sku:
                continue
            for shard, quantity in (r.shards or {"0": r.quantity}).items():
                open_reservations[(r.warehouse, int(shard))] += quantity
    return audit_counters(counters, movements, dict(open_reservations))


def ledger_view(sku: str, warehouse: str | None = None) -> dict[str, Any]:
    audits = audit_stock(sku)
    return {
        "sku": sku,
        "consistent": all(a.ok for a in audits),
        "counters": [a.model_dump() for a in audits if warehouse in (None, a.warehouse)],
        "movements": [m.model_dump(mode="json") for m in repository.stock_ledger(sku, warehouse)],
    }
