"""Orders: the ORDER item, its history, and every change of it (one conditional transaction each).

    ORDER#<id> / ORDER             the order's often-changing part: status, version, what the stages
                                   decided (GSI1, GSI5 keys); kept under 1 KB, rewritten by every change
    ORDER#<id> / ORDER#BODY        what the platform sent and rarely changes (BODY_FIELDS: lines,
                                   address, amounts, buyer...; GSI2-4 keys), written at creation and
                                   by a change of those fields, in that change's transaction
                                   and the stock reservations it holds (attributes res#<sku>#<wh>)
    ORDER#<id> / EVT#<seq>         its history, one item per state change
    ORDER#<id> / RES#<sku>#<wh>    a reservation stored before ADR 0006: read, consumed, never written
    ORDER#<id> / SHP#<shipment>    a shipment
    ORDER#<id> / REFUND#<payment>  a payment that must be refunded

Every change is conditional on the status and version the caller read, with its history event, plus
whatever writes the change moves (stock, cases, ...), in one unit of work: a change and its record
either both happen or neither does, and a stale writer is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core import clock
from functions.core.errors import IllegalTransitionError, OrderNotFoundError, TransientError
from functions.core.models.orders import HistoryEvent, Order
from functions.core.models.shipping import Shipment
from functions.core.models.stock import Reservation
from functions.core.repository import gifts, timers
from functions.core.repository._dynamo import (
    av,
    batch_get,
    get,
    instant,
    item,
    key,
    query_all,
    set_remove,
    shard_of,
    write,
)
from functions.core.repository.unit_of_work import (
    ReadAgain,
    TransactionRejected,
    UnitOfWork,
    Write,
    put,
    unit_of_work,
    update,
)
from functions.core.settings import get_settings
from functions.core.status import OrderStatus, can_transition

ORDER_SK = "ORDER"
BODY_SK = "ORDER#BODY"
# The order's fields that stay on its body item: large and rarely changed (a write costs 1 unit per KB of
# the whole item, so every status change rewriting them would cost twice what it needs; docs/adr/0002).
BODY_FIELDS = frozenset(
    {"buyer", "shipping_address", "lines", "amounts", "placed_at", "remark", "flags", "request_hash"}
    | {"platform_order_id", "changes"}
)
# Attributes of the ORDER item holding the order's open reservations (one per SKU and warehouse): written
# in the transaction of the change that takes or gives back the stock, merged with that change's update.
RESERVATION_ATTR_PREFIX = "res#"
ORDER_TAG = "order"
EVENT_TAG = "order_event"
# Attribute of the ORDER item holding the task token its execution waits on; not part of the Order model,
# so GET /orders never returns it.
WAIT_TOKEN = "wait_token"  # noqa: S105 - an attribute name, not a secret


class OrderMovedError(ReadAgain):
    """An order of a transaction was not in the status and version it was read at: read it again and
    decide again. (Throttling and transaction conflicts stay plain TransientError: the state machine
    retries those with back-off.)"""


def _moved(tag: str) -> Exception:
    return OrderMovedError(f"order {tag.partition('#')[2]} changed concurrently")


ORDER_CONFLICTS = {ORDER_TAG: _moved, EVENT_TAG: _moved}


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def order_key(order_id: str) -> dict[str, Any]:
    return key(order_pk(order_id), ORDER_SK)


def body_key(order_id: str) -> dict[str, Any]:
    return key(order_pk(order_id), BODY_SK)


class ItemReservation(Reservation):
    """A reservation stored as its own `RES#` item (an order reserved before reservations moved onto the
    status item): its writes go to that item."""


def _merged(header: dict[str, Any], body: dict[str, Any] | None) -> Order:
    """The order from its two items (an order stored whole, before the split, has no body item)."""
    fields = {k: v for k, v in header.items() if not k.startswith(RESERVATION_ATTR_PREFIX)}
    return Order.model_validate({**fields, **(body or {})})


def _held_reservations(header: dict[str, Any]) -> list[Reservation]:
    return [
        Reservation.model_validate(header[name])
        for name in sorted(header)
        if name.startswith(RESERVATION_ATTR_PREFIX)
    ]


def _shard(order_id: str) -> int:
    return shard_of(order_id, get_settings().status_index_shards)


def _status_index_keys(order_id: str, status: OrderStatus, at: str) -> dict[str, str]:
    """GSI1 is sharded by order id so one hot status never pins a single index partition."""
    return {"gsi1pk": f"STATUS#{status}#{_shard(order_id)}", "gsi1sk": f"{at}#{order_id}"}


def created_sort_key(at: datetime, order_id: str = "") -> str:
    """Fixed-width UTC time, so string order is time order (the search indexes' sort key)."""
    return f"{instant(at)}#{order_id}" if order_id else instant(at)


def _search_index_keys(order: Order) -> dict[str, str]:
    """Keys of the KEYS_ONLY search indexes, written once when the order is created (never change).

    GSI2: a platform's orders by creation time (sharded like GSI1); GSI3: a buyer's orders;
    GSI4: every order by creation time (sharded). See docs/api.md, "Access patterns".
    """
    shard = _shard(order.order_id)
    sk = created_sort_key(order.created_at, order.order_id)
    return {
        "gsi2pk": f"PLATFORM#{order.platform}#{shard}",
        "gsi2sk": sk,
        "gsi3pk": f"BUYER#{order.buyer.id}",
        "gsi3sk": sk,
        "gsi4pk": f"CREATED#{shard}",
        "gsi4sk": sk,
    }


@dataclass
class OrderAggregate:
    """Everything stored under one order, read with a single Query."""

    order: Order
    events: list[HistoryEvent]
    reservations: list[Reservation]
    shipments: list[Shipment]


def _order_item(order: Order) -> dict[str, Any]:
    """The ORDER item (the often-changing part) as created."""
    doc = order.model_dump(mode="json", exclude_none=True)
    header = {name: value for name, value in doc.items() if name not in BODY_FIELDS}
    keys = _status_index_keys(order.order_id, order.status, doc["updated_at"])
    if order.pay_deadline is not None and not order.is_paid:
        keys.update(timers.pay_due_keys(order.order_id, order.pay_deadline))
    return item({"pk": order_pk(order.order_id), "sk": ORDER_SK, **keys, **header})


def _body_item(order: Order) -> dict[str, Any]:
    doc = order.model_dump(mode="json", exclude_none=True, include=set(BODY_FIELDS))
    body = {"pk": order_pk(order.order_id), "sk": BODY_SK, **_search_index_keys(order), **doc}
    return item(body)


def _event_item(order_id: str, event: HistoryEvent) -> dict[str, Any]:
    doc = event.model_dump(mode="json", exclude_none=True)
    return item({"pk": order_pk(order_id), "sk": f"EVT#{event.seq:08d}", **doc})


def _event_write(order_id: str, event: HistoryEvent) -> Write:
    return put(_event_item(order_id, event), "attribute_not_exists(pk)", tag=f"{EVENT_TAG}#{order_id}")


# ---------------------------------------------------------------- reads


def create_order(order: Order, event: HistoryEvent) -> bool:
    """Store a new order with its first history event. False when the order id already exists."""
    uow = unit_of_work().add(
        put(_order_item(order), "attribute_not_exists(pk)", tag=ORDER_TAG),
        put(_body_item(order)),
        put(_event_item(order.order_id, event)),
    )
    try:
        uow.commit()
    except TransactionRejected as rejected:
        if rejected.failed(ORDER_TAG):
            return False
        raise
    return True


def get_order(order_id: str, *, consistent: bool = True) -> Order:
    """The order (its two items, one Query)."""
    found = {
        raw["sk"]: raw
        for raw in query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :order)",
            ExpressionAttributeValues={":pk": av(order_pk(order_id)), ":order": av(ORDER_SK)},
            ConsistentRead=consistent,
        )
    }
    if ORDER_SK not in found:
        raise OrderNotFoundError(order_id)
    return _merged(found[ORDER_SK], found.get(BODY_SK))


def find_order(order_id: str) -> Order | None:
    try:
        return get_order(order_id)
    except OrderNotFoundError:
        return None


def load_aggregate(order_id: str) -> OrderAggregate:
    items = query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": av(order_pk(order_id))},
        ConsistentRead=True,
    )
    header: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    events: list[HistoryEvent] = []
    reservations: list[Reservation] = []
    shipments: list[Shipment] = []
    for raw in items:
        sk = raw["sk"]
        if sk == ORDER_SK:
            header = raw
        elif sk == BODY_SK:
            body = raw
        elif sk.startswith("EVT#"):
            events.append(HistoryEvent.model_validate(raw))
        elif sk.startswith("RES#"):
            reservations.append(ItemReservation.model_validate(raw))
        elif sk.startswith("SHP#"):
            shipments.append(Shipment.model_validate(raw))
    if header is None:
        raise OrderNotFoundError(order_id)
    reservations = _held_reservations(header) + reservations
    return OrderAggregate(_merged(header, body), events, reservations, shipments)


def get_event(order_id: str, seq: int) -> HistoryEvent | None:
    """One history event: who won the conditional write of a given version."""
    found = get(key(order_pk(order_id), f"EVT#{seq:08d}"))
    return HistoryEvent.model_validate(found) if found is not None else None


def get_orders(order_ids: Sequence[str], *, consistent: bool = False) -> list[Order]:
    """BatchGetItem of orders (both items of each), in the order asked (missing ones skipped)."""
    unique = list(dict.fromkeys(order_ids))
    keys = [k for oid in unique for k in (order_key(oid), body_key(oid))]
    items: dict[tuple[str, str], dict[str, Any]] = {
        (raw["pk"], raw["sk"]): raw for raw in batch_get(keys, consistent=consistent, rounds=10)
    }
    found = {
        oid: _merged(items[(order_pk(oid), ORDER_SK)], items.get((order_pk(oid), BODY_SK)))
        for oid in unique
        if (order_pk(oid), ORDER_SK) in items
    }
    return [found[oid] for oid in order_ids if oid in found]


# ---------------------------------------------------------------- changes


@dataclass(frozen=True)
class PriorChange:
    """A status change an earlier task decided, written with the order's next change (review's approval
    with allocation's, docs/adr/0007): its event first, its fields set, conditional on `stored`."""

    stored: Order
    target: OrderStatus
    event_type: str
    actor: str
    execution_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    set_fields: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # when it was decided (its event's time); None: the write's

    def applied(self) -> Order:
        """The order as the next change sees it: in `target`, its version on by one, the fields set."""
        if not can_transition(self.stored.status, self.target):
            raise IllegalTransitionError(self.stored.order_id, self.stored.status, self.target)
        data = {**self.stored.model_dump(), **self.set_fields, "version": self.stored.version + 1}
        return Order.model_validate({**data, "status": self.target})


@dataclass(frozen=True)
class OrderChange:
    """One order's part of a transaction: a status change, or an annotation; after `prior` if given."""

    order: Order
    target: OrderStatus
    event_type: str
    actor: str
    execution_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    set_fields: dict[str, Any] = field(default_factory=dict)
    prior: PriorChange | None = None


def _order_change_writes(
    order: Order,
    events: Sequence[HistoryEvent],
    fields: dict[str, Any],
    remove_fields: Sequence[str] = (),
) -> list[Write]:
    """The update of `fields` (and removal of `remove_fields`), conditional on the status and version the
    caller read, and the history events (each once). Body fields go to the body item, in the same
    transaction (the ORDER item's condition guards both)."""
    body_fields = {name: value for name, value in fields.items() if name in BODY_FIELDS}
    body_remove = [name for name in remove_fields if name in BODY_FIELDS]
    fields = {name: value for name, value in fields.items() if name not in BODY_FIELDS}
    remove_fields = [name for name in remove_fields if name not in BODY_FIELDS]
    expression, names, values = set_remove(fields, remove_fields)
    order_update = update(
        order_key(order.order_id),
        expression,
        "#status = :expected_status AND #version = :expected_version",
        names={**names, "#status": "status", "#version": "version"},
        values={
            **values,
            ":expected_status": av(order.status.value),
            ":expected_version": av(order.version),
        },
        tag=f"{ORDER_TAG}#{order.order_id}",
    )
    writes = [order_update, *(_event_write(order.order_id, event) for event in events)]
    if body_fields or body_remove:
        expression, names, values = set_remove(body_fields, body_remove)
        writes.append(
            update(body_key(order.order_id), expression, names=names, values=values, tag="order_body")
        )
    return writes


def change_items(change: OrderChange) -> tuple[list[Write], Order]:
    """The order update (conditional on its status and version) and its history event, as writes; also
    the order as it will be. `target` may equal the current status (version still moves)."""
    return _change(
        change.order,
        change.target,
        [(change.event_type, change.detail)],
        actor=change.actor,
        execution_id=change.execution_id,
        set_fields=change.set_fields,
        restamp=True,
        prior=change.prior,
    )


def order_events_change(
    order: Order,
    target: OrderStatus,
    events: Sequence[tuple[str, dict[str, Any]]],
    *,
    actor: str,
    execution_id: str | None = None,
    set_fields: dict[str, Any] | None = None,
    remove_fields: Sequence[str] = (),
) -> tuple[list[Write], Order]:
    """Several history events of one order in one change (e.g. shipment.delivered then order.delivered):
    the order update, conditional on the status and version read, moves the version by one per event;
    the last event carries the status change (if any)."""
    return _change(
        order,
        target,
        events,
        actor=actor,
        execution_id=execution_id,
        set_fields=set_fields,
        remove_fields=remove_fields,
        restamp=False,
    )


def _change(
    order: Order,
    target: OrderStatus,
    events: Sequence[tuple[str, dict[str, Any]]],
    *,
    actor: str,
    execution_id: str | None,
    set_fields: dict[str, Any] | None,
    remove_fields: Sequence[str] = (),
    restamp: bool,
    prior: PriorChange | None = None,
) -> tuple[list[Write], Order]:
    """`restamp`: write the status and its index keys even when it stays; `prior`: see PriorChange."""
    if target != order.status and not can_transition(order.status, target):
        raise IllegalTransitionError(order.order_id, order.status, target)
    if not events:
        raise ValueError("an order change needs at least one event")
    at = clock.now()
    at_iso = at.isoformat()
    stored, first = order, []
    if prior is not None:
        if order.version != prior.stored.version + 1 or order.status != prior.target:
            raise ValueError(f"order {order.order_id}: the change does not follow its prior change")
        stored = prior.stored
        first = [
            HistoryEvent(
                seq=order.version,
                at=min(prior.at or at, at),
                type=prior.event_type,
                from_status=stored.status,
                to_status=prior.target,
                actor=prior.actor,
                execution_id=prior.execution_id,
                detail=prior.detail,
            )
        ]
    history = first + [
        HistoryEvent(
            seq=order.version + 1 + i,
            at=at,
            type=event_type,
            from_status=order.status,
            to_status=target if i == len(events) - 1 else order.status,
            actor=actor,
            execution_id=execution_id,
            detail=detail,
        )
        for i, (event_type, detail) in enumerate(events)
    ]
    version = order.version + len(events)
    fields: dict[str, Any] = {"version": version, "updated_at": at_iso}
    if target != stored.status or restamp:
        fields = {"status": target.value, **fields, **_status_index_keys(order.order_id, target, at_iso)}
    fields.update({**(prior.set_fields if prior else {}), **(set_fields or {})})
    writes = _order_change_writes(stored, history, fields, remove_fields)
    if target != order.status:  # an order ending unshipped gives its gifts' units back (once: final)
        writes += gifts.ended_order_gift_items(order.order_id, order.lines, target)
    data = order.model_dump()
    for name in remove_fields:
        data.pop(name, None)
    data.update(status=target, version=version, updated_at=at, **(set_fields or {}))
    return writes, Order.model_validate(data)


def add_change(uow: UnitOfWork, change: OrderChange) -> Order:
    """Add one order's change to `uow`; the order as it will be once committed."""
    writes, after = change_items(change)
    uow.add(*writes)
    return after


def transition(
    order: Order,
    target: OrderStatus,
    *,
    event_type: str,
    actor: str,
    execution_id: str | None = None,
    detail: dict[str, Any] | None = None,
    set_fields: dict[str, Any] | None = None,
    extra_items: Sequence[Write] = (),
) -> Order:
    """Move `order` to `target`, append the history event and apply `extra_items`, all or nothing.

    Idempotent: if the order already is in `target` (a retried task), the stored order is returned
    unchanged. A change that is not legal from the order's current status raises IllegalTransitionError.
    If one of `extra_items` fails its condition, TransactionRejected names it (by tag).
    """
    if order.status == target:
        return order
    uow = unit_of_work()
    updated = add_change(
        uow,
        OrderChange(
            order=order,
            target=target,
            event_type=event_type,
            actor=actor,
            execution_id=execution_id,
            detail=detail or {},
            set_fields=set_fields or {},
        ),
    )
    uow.add(*extra_items)
    try:
        uow.commit(ORDER_CONFLICTS)
    except OrderMovedError as err:
        current = get_order(order.order_id)
        if current.status == target:
            return current  # someone (a retry of this very task) already applied it
        if can_transition(current.status, target) and current.version != order.version:
            raise TransientError(f"order {order.order_id} changed concurrently; retry") from err
        raise IllegalTransitionError(order.order_id, current.status, target) from err
    return updated


def annotate(
    order: Order,
    *,
    event_type: str,
    actor: str,
    set_fields: dict[str, Any],
    execution_id: str | None = None,
    detail: dict[str, Any] | None = None,
    remove_fields: Sequence[str] = (),
    extra_items: Sequence[Write] = (),
) -> Order | None:
    """Change fields of the order without changing its status, with a history event, all or nothing.

    Conditional on the status and version the caller read (the version moves on, like a transition), so
    a concurrent change is never overwritten: None means "re-read and decide again". `remove_fields` are
    removed in the same update; `extra_items` join the transaction, and one of them failing its
    condition raises TransactionRejected (naming it by tag).
    """
    writes, after = order_events_change(
        order,
        order.status,
        [(event_type, detail or {})],
        actor=actor,
        execution_id=execution_id,
        set_fields=set_fields,
        remove_fields=remove_fields,
    )
    try:
        unit_of_work().add(*writes, *extra_items).commit(ORDER_CONFLICTS)
    except OrderMovedError:
        return None
    return after


def apply_changes(changes: Sequence[OrderChange], extra_items: Sequence[Write] = ()) -> list[Order]:
    """Apply several orders' changes and `extra_items` in one transaction, all or nothing.

    An order that moved since it was read raises OrderMovedError (read again and retry); an extra item
    that fails its condition raises TransactionRejected (naming it by tag); throttling and conflicts
    raise TransientError.
    """
    uow = unit_of_work()
    updated = [add_change(uow, change) for change in changes]
    uow.add(*extra_items).commit(ORDER_CONFLICTS)
    return updated


def update_order_fields(order: Order, fields: dict[str, Any]) -> Order:
    """Set informational fields on an order still in the status it was read in (no version change).
    Only fields of the ORDER item: a body field changes with a version (`annotate`)."""
    if BODY_FIELDS.intersection(fields):
        raise ValueError(f"body fields change with a version: {sorted(BODY_FIELDS.intersection(fields))}")
    expression, names, values = set_remove(fields)
    written = write(
        "update_item",
        Key=order_key(order.order_id),
        UpdateExpression=expression,
        ConditionExpression="#status = :expected_status",
        ExpressionAttributeNames={**names, "#status": "status"},
        ExpressionAttributeValues={**values, ":expected_status": av(order.status.value)},
    )
    if written is None:
        raise TransientError(f"order {order.order_id} changed status; read again")
    return Order.model_validate({**order.model_dump(), **fields})


def set_execution_arn(order_id: str, execution_arn: str) -> None:
    written = write(
        "update_item",
        Key=order_key(order_id),
        UpdateExpression="SET execution_arn = :arn",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":arn": av(execution_arn)},
    )
    if written is None:
        raise OrderNotFoundError(order_id)


def refund_flag_item(order_id: str, payment_id: str, detail: dict[str, Any]) -> Write:
    """One item per payment that must be refunded: the same callback resent never flags it twice."""
    return put(
        item({"pk": order_pk(order_id), "sk": f"REFUND#{payment_id}", "payment_id": payment_id, **detail}),
        "attribute_not_exists(pk)",
        tag="refund_flag",
    )


def change_refund_item(order_id: str, reference: str, doc: dict[str, Any]) -> Write:
    """The refund an order change (lines cancelled before shipment) owes the buyer, once per change
    reference (`ORDER#<id> / CHGREFUND#<reference>`, status `requested` for the payment provider)."""
    return put(
        item({"pk": order_pk(order_id), "sk": f"CHGREFUND#{reference}", "reference": reference, **doc}),
        "attribute_not_exists(pk)",
        tag="change_refund",
    )
