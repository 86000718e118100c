"""Stock: counters per SKU and warehouse, their ledger, and syncs (docs/inventory.md).

    SKU#<sku> / WH#<wh>                 stock counter, shard 0: on_hand, reserved, available, layout
    SKU#<sku>#S<k> / WH#<wh>            further counter shards of a hot SKU (their own partitions)
    STOCKLOG#<sku>#<wh>#<k> / <at>#...  the ledger of shard k: one entry per movement, append-only
    INVSYNC#<sku>#<wh>#<sync id> / SYNC a stock sync already applied (idempotency)

Every movement changes a counter and appends its ledger entry in the same transaction, guarded by
the reservation item (reserve: must not exist; release/ship: must exist with that quantity) or the
sync item, so it happens exactly once: on_hand = initial + restocks + adjustments - shipped, and
reserved = the open reservations, per counter item, always.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from functions.core import clock
from functions.core.errors import OmsError, TransientError
from functions.core.models.stock import StockLevel, StockMovement, StockShard
from functions.core.repository._dynamo import av, batch_get, get, get_record, item, key, query_all
from functions.core.repository.unit_of_work import TransactionRejected, Write, commit, put, update

STOCK_SK_PREFIX = "WH#"
STOCK_TAG = "stock"
SYNC_TAG = "sync"


def _stock_pk(sku: str, shard: int = 0) -> str:
    return f"SKU#{sku}" if shard == 0 else f"SKU#{sku}#S{shard}"


def stock_key(sku: str, warehouse: str, shard: int = 0) -> dict[str, Any]:
    return key(_stock_pk(sku, shard), f"{STOCK_SK_PREFIX}{warehouse}")


def _ledger_pk(sku: str, warehouse: str, shard: int) -> str:
    return f"STOCKLOG#{sku}#{warehouse}#{shard}"


def ledger_item(
    sku: str,
    warehouse: str,
    shard: int,
    kind: str,
    ref: str,
    *,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    quantity: int | None = None,
) -> Write:
    """Append one movement to a counter's ledger (a fresh key: entries are never rewritten)."""
    at = clock.now().isoformat()
    movement = {
        "sku": sku,
        "warehouse": warehouse,
        "shard": shard,
        "kind": kind,
        "ref": ref,
        "on_hand_delta": on_hand_delta,
        "reserved_delta": reserved_delta,
        "at": at,
        "quantity": quantity,
    }
    return put(
        item(
            {
                "pk": _ledger_pk(sku, warehouse, shard),
                "sk": f"{at}#{ref}#{kind}#{uuid.uuid4().hex[:12]}",
                **movement,
            }
        ),
        "attribute_not_exists(pk)",
        tag="ledger",
    )


def counter_update(
    sku: str, warehouse: str, shard: int, expression: str, condition: str, quantity: int
) -> Write:
    """Move one counter item by `quantity` (`:q` in `expression` and `condition`)."""
    return update(
        stock_key(sku, warehouse, shard), expression, condition, values={":q": av(quantity)}, tag=STOCK_TAG
    )


def get_stock_shards(sku: str, warehouse: str | None = None) -> list[StockShard]:
    """Every counter item of `sku` (or of one warehouse), sorted by warehouse then shard.

    One Query finds shard 0 of each warehouse (it carries the layout); a BatchGetItem reads the rest.
    """
    if warehouse is None:
        rows = query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :wh)",
            ExpressionAttributeValues={":pk": av(_stock_pk(sku)), ":wh": av(STOCK_SK_PREFIX)},
            ConsistentRead=True,
        )
    else:
        found = get(stock_key(sku, warehouse))
        rows = [found] if found is not None else []
    shards = [StockShard.model_validate(row) for row in rows]
    more = [stock_key(sku, s.warehouse, k) for s in shards for k in range(1, s.shards)]
    shards += [StockShard.model_validate(row) for row in batch_get(more)]
    return sorted(shards, key=lambda s: (s.warehouse, s.shard))


def get_stock(sku: str) -> list[StockLevel]:
    """Stock per warehouse (its shards added up)."""
    levels: dict[str, StockLevel] = {}
    for s in get_stock_shards(sku):
        level = levels.setdefault(
            s.warehouse,
            StockLevel(sku=sku, warehouse=s.warehouse, on_hand=0, reserved=0, available=0, shards=0),
        )
        level.on_hand += s.on_hand
        level.reserved += s.reserved
        level.available += s.available
        level.shards += 1
    return [levels[wh] for wh in sorted(levels)]


def stock_ledger(sku: str, warehouse: str | None = None) -> list[StockMovement]:
    """Every movement of `sku` (or of one warehouse), oldest first."""
    movements: list[StockMovement] = []
    for s in get_stock_shards(sku, warehouse):
        movements += [
            StockMovement.model_validate(raw)
            for raw in query_all(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": av(_ledger_pk(sku, s.warehouse, s.shard))},
                ConsistentRead=True,
            )
        ]
    return sorted(movements, key=lambda m: (m.at, m.warehouse, m.shard))


# ---------------------------------------------------------------- syncs


class StockChangedError(TransientError):
    """A counter moved between reading it and writing the sync: read again and recompute."""


class DuplicateSyncError(OmsError):
    """This sync id was applied before; `record` is what was applied."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"sync {record.get('sync_id')} already applied")
        self.record = record


def _sync_key(sku: str, warehouse: str, sync_id: str) -> dict[str, Any]:
    return key(f"INVSYNC#{sku}#{warehouse}#{sync_id}", "SYNC")


def get_sync_record(sku: str, warehouse: str, sync_id: str) -> dict[str, Any] | None:
    return get_record(_sync_key(sku, warehouse, sync_id))


def _counter_set(
    sku: str,
    warehouse: str,
    shard: int,
    existing: StockShard | None,
    target: int,
    now: str,
    extra: dict[str, Any],
) -> Write:
    """A new counter (only if absent), or an existing one set to `target` (only if on_hand is still what
    was read and the reservations fit under it)."""
    if existing is None:
        values = {
            "sku": sku,
            "warehouse": warehouse,
            "shard": shard,
            "on_hand": target,
            "reserved": 0,
            "available": target,
            "updated_at": now,
            **extra,
        }
        return put(item(values) | stock_key(sku, warehouse, shard), "attribute_not_exists(pk)", tag=STOCK_TAG)
    sets = ["on_hand = :new", "available = :new - reserved", "updated_at = :at"]
    values = {":new": av(target), ":expected": av(existing.on_hand), ":at": av(now)}
    for name, value in extra.items():
        sets.append(f"{name} = :{name}")
        values[f":{name}"] = av(value)
    return update(
        stock_key(sku, warehouse, shard),
        "SET " + ", ".join(sets),
        "on_hand = :expected AND reserved <= :new",
        values=values,
        tag=STOCK_TAG,
    )


def apply_stock_sync(
    sku: str,
    warehouse: str,
    *,
    current: Sequence[StockShard],
    new_on_hand: Sequence[int],
    active: int,
    ref: str,
    kind: str | None = None,
    sync_record: dict[str, Any] | None = None,
) -> list[StockMovement]:
    """Set each counter's on_hand (index = shard) and append the movements, in one transaction.

    Conditional on each counter's on_hand being what `current` says (StockChangedError otherwise) and on
    reservations fitting under the new figure. `kind` names the movement (default: initial for a new
    counter, restock up, adjust down). With `sync_record`, the sync id is recorded in the same
    transaction; a second use raises DuplicateSyncError.
    """
    now = clock.now().isoformat()
    by_shard = {s.shard: s for s in current}
    layout = {"shards": max(len(new_on_hand), len(current)), "active": active}
    writes: list[Write] = []
    movements: list[StockMovement] = []
    for shard, target in enumerate(new_on_hand):
        existing = by_shard.get(shard)
        writes.append(
            _counter_set(sku, warehouse, shard, existing, target, now, layout if shard == 0 else {})
        )
        if existing is None:
            delta, movement_kind = target, kind or ("initial" if not current else "restock")
        else:
            delta = target - existing.on_hand
            movement_kind = kind or ("restock" if delta > 0 else "adjust")
        if delta or existing is None:
            writes.append(ledger_item(sku, warehouse, shard, movement_kind, ref, on_hand_delta=delta))
            movements.append(
                StockMovement(
                    sku=sku,
                    warehouse=warehouse,
                    shard=shard,
                    kind=movement_kind,  # type: ignore[arg-type]
                    ref=ref,
                    on_hand_delta=delta,
                    at=clock.now(),
                )
            )
    if sync_record is not None:
        writes.append(
            put(
                item({**sync_record, "applied_at": now}) | _sync_key(sku, warehouse, ref),
                "attribute_not_exists(pk)",
                tag=SYNC_TAG,
            )
        )
    try:
        commit(writes)
    except TransactionRejected as rejected:
        if rejected.failed(SYNC_TAG):
            record = get_sync_record(sku, warehouse, ref)
            if record is not None:
                raise DuplicateSyncError(record) from rejected
        raise StockChangedError(f"{sku}@{warehouse} changed while syncing; read again") from rejected
    return movements


def set_stock(sku: str, warehouse: str, on_hand: int) -> None:
    """Make `on_hand` the counted stock of a single-counter (SKU, warehouse); what is reserved stays
    reserved, so it may not go below that. Recorded in the ledger like any sync. Sharded (hot) stock is
    set through functions.allocate.inventory.sync_stock, which spreads it over the shards."""
    for _ in range(5):
        current = get_stock_shards(sku, warehouse)
        if current and (current[0].shards > 1 or current[0].active > 1):
            raise ValueError(f"{sku}@{warehouse} is sharded; sync it through the inventory service")
        if current and on_hand < current[0].reserved:
            raise ValueError(f"{sku}@{warehouse}: on_hand {on_hand} is below what is already reserved")
        try:
            apply_stock_sync(
                sku,
                warehouse,
                current=current,
                new_on_hand=[on_hand],
                active=1,
                ref=f"set-{uuid.uuid4().hex[:12]}",
            )
            return
        except StockChangedError:
            continue
    raise TransientError(f"{sku}@{warehouse} kept changing while setting stock")


# ---------------------------------------------------------------- returns and write-offs


def return_to_stock_items(sku: str, warehouse: str, units: int, ref: str) -> list[Write]:
    """A resellable return goes back on the shelf of the warehouse it shipped from: on_hand and
    available rise on the counter's first shard, with a `returned` ledger entry in the same transaction."""
    return [
        counter_update(
            sku,
            warehouse,
            0,
            "SET on_hand = on_hand + :q, available = available + :q",
            "attribute_exists(pk)",
            units,
        ),
        ledger_item(sku, warehouse, 0, "returned", ref, on_hand_delta=units),
    ]


def writeoff_item(sku: str, warehouse: str, quantity: int, ref: str) -> Write:
    """A ledger entry for units that left with a shipment and never come back to stock (a damaged or
    lost parcel, a return found damaged): the counters already lost them at shipping, so the entry
    moves nothing and says why they are gone."""
    return ledger_item(sku, warehouse, 0, "writeoff", ref, quantity=quantity)
