"""Allocation: reservations and shipments of stock, the backorder waitlist, merge (合单) groups.

ORDER#<id> / ORDER, attribute res#<sku>#<wh>   an open reservation, held on the order's status item
                                       (removed when released or shipped; docs/adr/0006)
ORDER#<id> / RES#<sku>#<wh>            an open reservation of an order reserved before that (read and
                                       consumed as before, never written anew)
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
from functions.core.repository.orders import RESERVATION_ATTR_PREFIX, ItemReservation, order_key, order_pk
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


def _res_names(r: Reservation, **more: str) -> dict[str, str]:
    return {"#res": f"{RESERVATION_ATTR_PREFIX}{r.sku}#{r.warehouse}", **more}


def _reservation_put(order_id: str, r: Reservation) -> Write:
    """The reservation recorded on the order's status item, only once (the order's change in the same
    transaction is merged with it into one write of that item)."""
    return update(
        order_key(order_id),
        "SET #res = :res",
        "attribute_not_exists(#res)",
        names=_res_names(r),
        values={":res": av(r.model_dump())},
        tag=RESERVATION_TAG,
    )


def _reservation_change(order_id: str, before: Reservation, expression: str, values: dict[str, Any]) -> Write:
    """Change (or REMOVE) the reservation `before`, only while it holds `before.quantity` (`:q`)."""
    names = _res_names(before, **({"#group": "group"} if "#group" in expression else {}))
    return update(
        order_key(order_id),
        expression,
        "#res.quantity = :q",
        names=names,
        values={":q": av(before.quantity), **values},
        tag=RESERVATION_TAG,
    )


def reserve_items(order_id: str, reservations: Iterable[Reservation]) -> list[Write]:
    """Per reservation: take from available (only if enough) and record it on the order (only once)."""
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
        writes.append(_reservation_put(order_id, r))
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
            writes.append(_reservation_used(order_id, r))
    counters = [
        counter_update(sku, warehouse, shard, _CONSUME_UPDATES[kind], "reserved >= :q", quantity)
        for (sku, warehouse, shard), quantity in totals.items()
    ]
    return counters + writes


def _reservation_used(order_id: str, r: Reservation) -> Write:
    """The reservation goes, once (only while it holds the quantity read)."""
    if isinstance(r, ItemReservation):
        return delete(
            _reservation_key(order_id, r), "quantity = :q", values={":q": av(r.quantity)}, tag=RESERVATION_TAG
        )
    return _reservation_change(order_id, r, "REMOVE #res", {})


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
        writes.append(_reservation_used(order_id, before))
        return writes
    left = before.quantity - released.quantity
    fields: dict[str, Any] = {"quantity": left}
    if before.shards is not None:
        kept = {k: q - (released.shards or {}).get(k, 0) for k, q in before.shards.items()}
        fields["shards"] = {k: q for k, q in kept.items() if q > 0}
    writes.append(_reservation_fields(order_id, before, fields))
    return writes


def _reservation_fields(order_id: str, before: Reservation, fields: dict[str, Any]) -> Write:
    """Set fields of the reservation `before` (quantity, shards), only while it is as read."""
    if isinstance(before, ItemReservation):
        sets = [f"{name} = :{name}" for name in fields]
        values = {f":{name}": av(value) for name, value in fields.items()}
        return update(
            _reservation_key(order_id, before),
            "SET " + ", ".join(sets),
            "quantity = :q",
            values={":q": av(before.quantity), **values},
            tag=RESERVATION_TAG,
        )
    sets = [f"#res.{name} = :{name}" for name in fields]
    return _reservation_change(
        order_id, before, "SET " + ", ".join(sets), {f":{n}": av(v) for n, v in fields.items()}
    )


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
        writes.append(_reservation_put(order_id, added))
        return writes
    fields: dict[str, Any] = {"quantity": before.quantity + added.quantity}
    if before.shards is not None or added.shards is not None:
        merged = dict(before.shards or {"0": before.quantity})
        for k, q in (added.shards or {"0": added.quantity}).items():
            merged[k] = merged.get(k, 0) + q
        fields["shards"] = merged
    writes.append(_reservation_fields(order_id, before, fields))
    return writes


def reservation_group_item(order_id: str, reservation: Reservation, group: int | None) -> Write:
    """Move a reservation into shipment group `group` (None: the first), only while it is as read;
    no stock moves (the units stay reserved for the same order)."""
    values = {} if group is None else {":group": av(group)}
    if isinstance(reservation, ItemReservation):
        return update(
            _reservation_key(order_id, reservation),
            "REMOVE #group" if group is None else "SET #group = :group",
            "quantity = :q",
            names={"#group": "group"},
            values={":q": av(reservation.quantity), **values},
            tag=RESERVATION_TAG,
        )
    expression = "REMOVE #res.#group" if group is None else "SET #res.#group = :group"
    return _reservation_change(order_id, reservation, expression, values)
