"""Allocation: reservations and shipments of stock, the backorder waitlist, merge (合单) groups.

ORDER#<id> / RES#<sku>#<wh>            an open reservation (deleted when released or shipped)
ORDER#<id> / SHP#<shipment>            a shipment (合单: recorded under each of its orders)
BACKORDER#<sku> / <since>#<order id>   an order waiting for `sku`, with its execution's task token
MERGE#<buyer+address key> / OPEN       the group orders of that buyer and address may join now
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from functions.core.models.orders import Order
from functions.core.models.shipping import Shipment
from functions.core.models.stock import Reservation
from functions.core.repository._dynamo import av, get, item, key, query_all, write
from functions.core.repository._dynamo import put as put_record
from functions.core.repository.orders import order_pk
from functions.core.repository.stock import counter_update, ledger_item
from functions.core.repository.unit_of_work import Write, delete, put, update
from functions.core.status import OrderStatus

RESERVATION_TAG = "reservation"


def _shard_takes(r: Reservation) -> list[tuple[int, int]]:
    if not r.shards:
        return [(0, r.quantity)]
    return sorted((int(shard), quantity) for shard, quantity in r.shards.items() if quantity > 0)


def _reservation_key(order_id: str, r: Reservation) -> dict[str, Any]:
    return key(order_pk(order_id), f"RES#{r.sku}#{r.warehouse}")


def reserve_items(order_id: str, reservations: Iterable[Reservation]) -> list[Write]:
    """Per reservation: take from available (only if enough) and record it under the order (only once)."""
    writes: list[Write] = []
    for r in reservations:
        for shard, quantity in _shard_takes(r):
            writes.append(
                counter_update(
                    r.sku,
                    r.warehouse,
                    shard,
                    "SET available = available - :q, reserved = reserved + :q",
                    "available >= :q",
                    quantity,
                )
            )
            writes.append(
                ledger_item(r.sku, r.warehouse, shard, "reserve", order_id, reserved_delta=quantity)
            )
        writes.append(
            put(
                item({"pk": order_pk(order_id), "sk": f"RES#{r.sku}#{r.warehouse}", **r.model_dump()}),
                "attribute_not_exists(pk)",
                tag=RESERVATION_TAG,
            )
        )
    return writes


def release_items(order_id: str, reservations: Iterable[Reservation]) -> list[Write]:
    """Give reserved stock back to available; each reservation can be released once."""
    return _consume_reservations({order_id: reservations}, "release")


def ship_items(order_id: str, reservations: Iterable[Reservation]) -> list[Write]:
    """Stock leaves the warehouse: reserved and on_hand both drop; the reservation is used up."""
    return _consume_reservations({order_id: reservations}, "ship")


def ship_group_items(reservations_by_order: Mapping[str, Iterable[Reservation]]) -> list[Write]:
    """合单: several orders' stock leaves together. One transaction may touch an item once, so each
    counter moves once by the orders' total; the ledger still has one entry per order."""
    return _consume_reservations(reservations_by_order, "ship")


_CONSUME_UPDATES = {
    "release": "SET available = available + :q, reserved = reserved - :q",
    "ship": "SET on_hand = on_hand - :q, reserved = reserved - :q",
}


def _consume_reservations(
    reservations_by_order: Mapping[str, Iterable[Reservation]], kind: str
) -> list[Write]:
    totals: dict[tuple[str, str, int], int] = {}
    writes: list[Write] = []
    for order_id, reservations in reservations_by_order.items():
        for r in reservations:
            for shard, quantity in _shard_takes(r):
                counter = (r.sku, r.warehouse, shard)
                totals[counter] = totals.get(counter, 0) + quantity
                writes.append(
                    ledger_item(
                        r.sku,
                        r.warehouse,
                        shard,
                        kind,
                        order_id,
                        on_hand_delta=-quantity if kind == "ship" else 0,
                        reserved_delta=-quantity,
                    )
                )
            writes.append(
                delete(
                    _reservation_key(order_id, r),
                    "quantity = :q",
                    values={":q": av(r.quantity)},
                    tag=RESERVATION_TAG,
                )
            )
    counters = [
        counter_update(sku, warehouse, shard, _CONSUME_UPDATES[kind], "reserved >= :q", quantity)
        for (sku, warehouse, shard), quantity in totals.items()
    ]
    return counters + writes


def shipment_item(shipment: Shipment, order_id: str | None = None) -> Write:
    """The shipment as recorded under `order_id` (default: its own order; 合单 records it under each)."""
    return put(
        item(
            {
                "pk": order_pk(order_id or shipment.order_id),
                "sk": f"SHP#{shipment.shipment_id}",
                **shipment.model_dump(mode="json"),
            }
        ),
        "attribute_not_exists(pk)",
        tag="shipment",
    )


# ---------------------------------------------------------------- backorder waitlist


def _waitlist_key(sku: str, order_id: str, since: str) -> dict[str, Any]:
    return key(f"BACKORDER#{sku}", f"{since}#{order_id}")


def put_waitlist(sku: str, order_id: str, since: datetime, quantity: int, task_token: str) -> None:
    """Register (or refresh with a new token) an order waiting for a restock of `sku`."""
    put_record(
        {
            "pk": f"BACKORDER#{sku}",
            "sk": f"{since.isoformat()}#{order_id}",
            "order_id": order_id,
            "sku": sku,
            "quantity": quantity,
            "task_token": task_token,
        }
    )


def waitlist(sku: str, limit: int = 100) -> list[dict[str, Any]]:
    """Orders waiting for `sku`, longest waiting first."""
    return query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": av(f"BACKORDER#{sku}")},
        ConsistentRead=True,
        Limit=limit,
        max_items=limit,
    )[:limit]


def remove_waitlist_entry(entry: dict[str, Any]) -> bool:
    """Take an entry off the list, only if it still holds the same token (False: someone else did)."""
    removed = write(
        "delete_item",
        Key=key(entry["pk"], entry["sk"]),
        ConditionExpression="task_token = :t",
        ExpressionAttributeValues={":t": av(entry["task_token"])},
    )
    return removed is not None


def waitlist_delete_items(order_id: str, since: datetime, skus: Iterable[str]) -> list[Write]:
    """Writes taking an order off the waitlists of `skus` (whether or not it is on them)."""
    return [delete(_waitlist_key(sku, order_id, since.isoformat())) for sku in sorted(set(skus))]


def waitlist_leave_items(order: Order) -> list[Write]:
    """Writes taking a BACKORDERED order off every waitlist it is on (none for any other order): for
    whatever ends its wait other than a restock (a cancellation, an interception, a failure)."""
    info = order.allocation
    if order.status != OrderStatus.BACKORDERED or info is None or info.backordered_since is None:
        return []
    return waitlist_delete_items(order.order_id, info.backordered_since, info.waitlisted)


# ---------------------------------------------------------------- 合单 (merge) groups

MERGE_TAG = "merge"


def _merge_key(group: str) -> dict[str, Any]:
    return key(f"MERGE#{group}", "OPEN")


def open_merge_group(group: str) -> dict[str, Any] | None:
    return get(_merge_key(group))


def merge_open_item(group: str, leader: str, closes_at: datetime, now: datetime) -> Write:
    """Open a group led by `leader`, unless another group is still open for this buyer and address."""
    return put(
        item(
            {
                "pk": f"MERGE#{group}",
                "sk": "OPEN",
                "leader": leader,
                "closes_at": closes_at.isoformat(),
                "members": 1,
            }
        ),
        "attribute_not_exists(pk) OR closes_at <= :now",
        values={":now": av(now.isoformat())},
        tag=MERGE_TAG,
    )


def merge_join_item(group: str, leader: str, now: datetime, max_orders: int) -> Write:
    """Join the open group of `leader`: only while it is open and not full."""
    return update(
        _merge_key(group),
        "SET members = members + :one",
        "leader = :leader AND closes_at > :now AND members < :max",
        values={":one": av(1), ":leader": av(leader), ":now": av(now.isoformat()), ":max": av(max_orders)},
        tag=MERGE_TAG,
    )


# ---------------------------------------------------------------- part of a reservation given back


def reservation_cut_items(order_id: str, before: Reservation, released: Reservation) -> list[Write]:
    """Give `released` units of the reservation `before` back to available (per counter shard, with a
    `release` ledger entry each): the reservation item shrinks to what is left, or goes when nothing is.
    Conditional on the reservation still being `before` and on the counters holding that much reserved,
    so the same units are never given back twice."""
    writes: list[Write] = []
    for shard, quantity in _shard_takes(released):
        writes.append(
            counter_update(
                released.sku,
                released.warehouse,
                shard,
                _CONSUME_UPDATES["release"],
                "reserved >= :q",
                quantity,
            )
        )
        writes.append(
            ledger_item(
                released.sku, released.warehouse, shard, "release", order_id, reserved_delta=-quantity
            )
        )
    if released.quantity >= before.quantity:
        writes.append(
            delete(
                _reservation_key(order_id, before),
                "quantity = :q",
                values={":q": av(before.quantity)},
                tag=RESERVATION_TAG,
            )
        )
        return writes
    left = before.quantity - released.quantity
    sets, values = ["quantity = :left"], {":left": av(left), ":q": av(before.quantity)}
    if before.shards is not None:
        kept = {k: q - (released.shards or {}).get(k, 0) for k, q in before.shards.items()}
        sets.append("shards = :shards")
        values[":shards"] = av({k: q for k, q in kept.items() if q > 0})
    writes.append(
        update(
            _reservation_key(order_id, before),
            "SET " + ", ".join(sets),
            "quantity = :q",
            values=values,
            tag=RESERVATION_TAG,
        )
    )
    return writes


def reservation_grow_items(order_id: str, before: Reservation | None, added: Reservation) -> list[Write]:
    """Take `added` more units for the order (per counter shard, only if available, with a `reserve`
    ledger entry each): a new reservation item, or the order's reservation in that warehouse grown,
    conditional on it still being `before`."""
    writes: list[Write] = []
    for shard, quantity in _shard_takes(added):
        writes.append(
            counter_update(
                added.sku,
                added.warehouse,
                shard,
                "SET available = available - :q, reserved = reserved + :q",
                "available >= :q",
                quantity,
            )
        )
        writes.append(
            ledger_item(added.sku, added.warehouse, shard, "reserve", order_id, reserved_delta=quantity)
        )
    if before is None:
        doc = {"pk": order_pk(order_id), "sk": f"RES#{added.sku}#{added.warehouse}", **added.model_dump()}
        writes.append(put(item(doc), "attribute_not_exists(pk)", tag=RESERVATION_TAG))
        return writes
    sets = ["quantity = :total"]
    values = {":total": av(before.quantity + added.quantity), ":q": av(before.quantity)}
    if before.shards is not None or added.shards is not None:
        merged = dict(before.shards or {"0": before.quantity})
        for k, q in (added.shards or {"0": added.quantity}).items():
            merged[k] = merged.get(k, 0) + q
        sets.append("shards = :shards")
        values[":shards"] = av(merged)
    writes.append(
        update(
            _reservation_key(order_id, before),
            "SET " + ", ".join(sets),
            "quantity = :q",
            values=values,
            tag=RESERVATION_TAG,
        )
    )
    return writes


def reservation_group_item(order_id: str, reservation: Reservation, group: int | None) -> Write:
    """Move a reservation into shipment group `group` (None: the first), only while it is as read;
    no stock moves (the units stay reserved for the same order)."""
    if group is None:
        return update(
            _reservation_key(order_id, reservation),
            "REMOVE #group",
            "quantity = :q",
            names={"#group": "group"},
            values={":q": av(reservation.quantity)},
            tag=RESERVATION_TAG,
        )
    return update(
        _reservation_key(order_id, reservation),
        "SET #group = :group",
        "quantity = :q",
        names={"#group": "group"},
        values={":q": av(reservation.quantity), ":group": av(group)},
        tag=RESERVATION_TAG,
    )
