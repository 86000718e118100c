"""The one data-access module: every DynamoDB read and write of the OMS goes through here.

Single-table layout (see docs/data-model.md):
    ORDER#<id> / ORDER             the order (status, version, GSI1 keys)
    ORDER#<id> / EVT#<seq>         its history, one item per state change
    ORDER#<id> / RES#<sku>#<wh>    a stock reservation held for the order
    ORDER#<id> / SHP#<shipment>    a shipment
    SKU#<sku>  / WH#<warehouse>    stock of one SKU in one warehouse: on_hand, reserved, available
    (stock shards, ledger, syncs, backorder waitlist, merge groups: see the stock section below and
    docs/inventory.md)

Every status change is one TransactWriteItems: a conditional update of the order (status and version
must be what the caller read) plus the history event, plus whatever stock items the change moves. So
a change and its record either both happen or neither does, and a stale writer is refused.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.core import aws, clock
from functions.core.errors import IllegalTransitionError, OrderNotFoundError, TransientError
from functions.core.models import (
    ExceptionCase,
    ExceptionResolution,
    HistoryEvent,
    Order,
    Reservation,
    Shipment,
    ShipmentTracking,
    StockLevel,
    StockMovement,
    StockShard,
)
from functions.core.settings import get_settings
from functions.core.status import OrderStatus, can_transition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_ser = TypeSerializer()
_de = TypeDeserializer()

ORDER_SK = "ORDER"
TransactItem = dict[str, Any]


def _av(value: Any) -> Any:
    return _ser.serialize(value)


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _av(v) for k, v in values.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _unwrap(_de.deserialize(v)) for k, v in item.items()}


def _unwrap(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; counters are ints."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def _status_index_keys(order_id: str, status: OrderStatus, at: str) -> dict[str, str]:
    """GSI1 is sharded by order id so one hot status never pins a single index partition."""
    shard = zlib.crc32(order_id.encode()) % get_settings().status_index_shards
    return {"gsi1pk": f"STATUS#{status}#{shard}", "gsi1sk": f"{at}#{order_id}"}


def _shard(order_id: str) -> int:
    return zlib.crc32(order_id.encode()) % get_settings().status_index_shards


def created_sort_key(at: datetime, order_id: str = "") -> str:
    """Fixed-width UTC time, so string order is time order (the search indexes' sort key)."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}#{order_id}" if order_id else stamp


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


@dataclass(frozen=True)
class TransactionRejected(Exception):
    """A transaction was cancelled because one of the caller's extra items failed its condition."""

    failed_indexes: list[int]
    codes: list[str] = field(default_factory=list)


@dataclass
class OrderAggregate:
    """Everything stored under one order, read with a single Query."""

    order: Order
    events: list[HistoryEvent]
    reservations: list[Reservation]
    shipments: list[Shipment]


# ---------------------------------------------------------------- orders


def _order_item(order: Order) -> dict[str, Any]:
    doc = order.model_dump(mode="json", exclude_none=True)
    keys = _status_index_keys(order.order_id, order.status, doc["updated_at"])
    search = _search_index_keys(order)
    if order.pay_deadline is not None and not order.is_paid:
        keys.update(pay_due_keys(order.order_id, order.pay_deadline))
    return _item({"pk": order_pk(order.order_id), "sk": ORDER_SK, **keys, **search, **doc})


def _event_item(order_id: str, event: HistoryEvent) -> dict[str, Any]:
    doc = event.model_dump(mode="json", exclude_none=True)
    return _item({"pk": order_pk(order_id), "sk": f"EVT#{event.seq:08d}", **doc})


def create_order(order: Order, event: HistoryEvent) -> bool:
    """Store a new order with its first history event. False when the order id already exists."""
    table = get_settings().table_name
    items: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": _order_item(order),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": table, "Item": _event_item(order.order_id, event)}},
    ]
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as err:
        codes = _cancellation_codes(err)
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        raise _translate(err) from err
    return True


def get_order(order_id: str, *, consistent: bool = True) -> Order:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
        ConsistentRead=consistent,
    )
    if "Item" not in response:
        raise OrderNotFoundError(order_id)
    return Order.model_validate(_plain(response["Item"]))


def find_order(order_id: str) -> Order | None:
    try:
        return get_order(order_id)
    except OrderNotFoundError:
        return None


def load_aggregate(order_id: str) -> OrderAggregate:
    items = _query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": _av(order_pk(order_id))},
        ConsistentRead=True,
    )
    order: Order | None = None
    events: list[HistoryEvent] = []
    reservations: list[Reservation] = []
    shipments: list[Shipment] = []
    for raw in items:
        sk = raw["sk"]
        if sk == ORDER_SK:
            order = Order.model_validate(raw)
        elif sk.startswith("EVT#"):
            events.append(HistoryEvent.model_validate(raw))
        elif sk.startswith("RES#"):
            reservations.append(Reservation.model_validate(raw))
        elif sk.startswith("SHP#"):
            shipments.append(Shipment.model_validate(raw))
    if order is None:
        raise OrderNotFoundError(order_id)
    return OrderAggregate(order, events, reservations, shipments)


def set_execution_arn(order_id: str, execution_arn: str) -> None:
    aws.dynamodb().update_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
        UpdateExpression="SET execution_arn = :arn",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":arn": _av(execution_arn)},
    )


def _set_remove(
    fields: Mapping[str, Any], remove: Sequence[str] = ()
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An UpdateExpression setting `fields` and removing `remove`, with its placeholder names and values."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    names.update({f"#r{i}": name for i, name in enumerate(remove)})
    values = {f":v{i}": _av(value) for i, value in enumerate(fields.values())}
    update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    if remove:
        update += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    return update, names, values


def _order_change_items(
    order: Order,
    event: HistoryEvent,
    fields: dict[str, Any],
    remove_fields: Sequence[str],
    extra_items: Sequence[TransactItem],
) -> list[Any]:
    """One change of the order as transaction items: the update of `fields` (and removal of
    `remove_fields`), conditional on the status and version the caller read, the history event (once),
    then the caller's `extra_items` (so their cancellation reasons start at index 2)."""
    update, names, values = _set_remove(fields, remove_fields)
    table = get_settings().table_name
    return [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": _av(order_pk(order.order_id)), "sk": _av(ORDER_SK)},
                "UpdateExpression": update,
                "ConditionExpression": "#status = :expected_status AND #version = :expected_version",
                "ExpressionAttributeNames": {**names, "#status": "status", "#version": "version"},
                "ExpressionAttributeValues": {
                    **values,
                    ":expected_status": _av(order.status.value),
                    ":expected_version": _av(order.version),
                },
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": _event_item(order.order_id, event),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        *extra_items,
    ]


def _raise_if_extras_rejected(err: ClientError, codes: list[str]) -> None:
    """When one of the caller's extra items failed its condition, say which (index into extra_items)."""
    failed = [i - 2 for i, code in enumerate(codes) if i >= 2 and code == "ConditionalCheckFailed"]
    if failed:
        raise TransactionRejected(failed, codes[2:]) from err


def transition(
    order: Order,
    target: OrderStatus,
    *,
    event_type: str,
    actor: str,
    execution_id: str | None = None,
    detail: dict[str, Any] | None = None,
    set_fields: dict[str, Any] | None = None,
    extra_items: Sequence[TransactItem] = (),
) -> Order:
    """Move `order` to `target`, append the history event and apply `extra_items`, all or nothing.

    Idempotent: if the order already is in `target` (a retried task), the stored order is returned
    unchanged. A change that is not legal from the order's current status raises IllegalTransitionError.
    If one of `extra_items` fails its condition, TransactionRejected names which (index into extra_items).
    """
    if order.status == target:
        return order
    items, updated = change_items(
        OrderChange(
            order=order,
            target=target,
            event_type=event_type,
            actor=actor,
            execution_id=execution_id,
            detail=detail or {},
            set_fields=set_fields or {},
        )
    )
    try:
        aws.dynamodb().transact_write_items(TransactItems=[*items, *extra_items])  # type: ignore[list-item]
    except ClientError as err:
        codes = _cancellation_codes(err)
        if not codes:
            raise _translate(err) from err
        if codes[0] == "ConditionalCheckFailed" or codes[1] == "ConditionalCheckFailed":
            current = get_order(order.order_id)
            if current.status == target:
                return current  # someone (a retry of this very task) already applied it
            if can_transition(current.status, target) and current.version != order.version:
                raise TransientError(f"order {order.order_id} changed concurrently; retry") from err
            raise IllegalTransitionError(order.order_id, current.status, target) from err
        _raise_if_extras_rejected(err, codes)
        raise TransientError(f"transaction cancelled: {codes}") from err
    return updated


def list_orders_by_status(
    status: OrderStatus, limit: int = 100, *, oldest_first: bool = False
) -> list[Order]:
    """Newest (or oldest) first across all shards of the status index (eventually consistent)."""
    found: list[dict[str, Any]] = []
    for shard in range(get_settings().status_index_shards):
        found.extend(
            _query_all(
                IndexName="GSI1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": _av(f"STATUS#{status}#{shard}")},
                ScanIndexForward=oldest_first,
                Limit=limit,
                max_items=limit,
            )
        )
    found.sort(key=lambda raw: raw["gsi1sk"], reverse=not oldest_first)
    return [Order.model_validate(raw) for raw in found[:limit]]


# ---------------------------------------------------------------- search (GET /orders)


@dataclass(frozen=True)
class OrderSearch:
    """Filters of GET /orders. Times bound `created_at`: from inclusive, to exclusive."""

    status: OrderStatus | None = None
    platform: str | None = None
    buyer: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def matches(self, order: Order) -> bool:
        return (
            (self.status is None or order.status == self.status)
            and (self.platform is None or order.platform == self.platform)
            and (self.buyer is None or order.buyer.id == self.buyer)
            and (self.created_from is None or order.created_at >= self.created_from)
            and (self.created_to is None or order.created_at < self.created_to)
        )

    def plan(self) -> tuple[str, list[str], bool]:
        """(index, partition keys to merge, whether the sort key is the creation time).

        The most selective filter picks the index; the others are applied to what it returns.
        """
        shards = range(get_settings().status_index_shards)
        if self.buyer is not None:
            return "GSI3", [f"BUYER#{self.buyer}"], True
        if self.platform is not None:
            return "GSI2", [f"PLATFORM#{self.platform}#{s}" for s in shards], True
        if self.status is not None:
            return "GSI1", [f"STATUS#{self.status}#{s}" for s in shards], False
        return "GSI4", [f"CREATED#{s}" for s in shards], True


@dataclass
class OrderPage:
    orders: list[Order]
    positions: dict[str, str | None] | None  # None: nothing more to read


def search_orders(search: OrderSearch, limit: int, positions: dict[str, str | None] | None) -> OrderPage:
    """One page of orders matching `search`, newest first, merged across the index's partitions.

    Reads at most `limit` index entries per partition and examines the `limit` newest of them, so a
    page costs a bounded amount of work. Filters that the index does not key on are applied after, so a
    page may hold fewer than `limit` orders while more remain: follow the positions until None.
    """
    index, partitions, by_created = search.plan()
    pk_name, sk_name = f"{index.lower()}pk", f"{index.lower()}sk"
    start = positions or {}
    candidates: list[tuple[str, str, dict[str, Any]]] = []  # (sort key, partition, item)
    more: dict[str, bool] = {}
    client = aws.dynamodb()
    for partition in partitions:
        if partition in start and start[partition] is None:
            continue  # exhausted on an earlier page
        after = start.get(partition)
        names = {"#pk": pk_name, "#sk": sk_name}
        values: dict[str, Any] = {":pk": _av(partition)}
        condition = "#pk = :pk"
        upper = after
        if by_created and search.created_to is not None:
            bound = created_sort_key(search.created_to)
            upper = bound if upper is None else min(upper, bound)
        if by_created and search.created_from is not None:
            condition += " AND #sk BETWEEN :lo AND :hi"
            values[":lo"] = _av(created_sort_key(search.created_from))
            values[":hi"] = _av(upper if upper is not None else "\uffff")
        elif upper is not None:
            condition += " AND #sk < :hi"
            values[":hi"] = _av(upper)
        else:
            names.pop("#sk")
        response = client.query(
            TableName=get_settings().table_name,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        items = [_plain(raw) for raw in response.get("Items", [])]
        items = [item for item in items if item[sk_name] != upper]  # BETWEEN is inclusive
        more[partition] = "LastEvaluatedKey" in response or len(items) > limit
        items = items[:limit]
        candidates.extend((item[sk_name], partition, item) for item in items)
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    examined = candidates[:limit]
    next_positions: dict[str, str | None] = {p: start.get(p) for p in partitions if p in start}
    taken_from: dict[str, int] = {}
    for sort_key, partition, _ in examined:
        next_positions[partition] = sort_key  # descending: the last one seen is the lowest
        taken_from[partition] = taken_from.get(partition, 0) + 1
    for partition in more:
        returned = sum(1 for c in candidates if c[1] == partition)
        if not more[partition] and taken_from.get(partition, 0) == returned:
            next_positions[partition] = None
    if index == "GSI1":
        orders = [Order.model_validate(item) for _, _, item in examined]
    else:
        orders = get_orders([item["pk"].removeprefix("ORDER#") for _, _, item in examined])
    finished = all(next_positions.get(p, "") is None for p in partitions)
    return OrderPage(
        orders=[o for o in orders if search.matches(o)], positions=None if finished else next_positions
    )


def get_orders(order_ids: Sequence[str]) -> list[Order]:
    """BatchGetItem of orders, in the order asked (missing ones skipped); eventually consistent."""
    found: dict[str, Order] = {}
    client = aws.dynamodb()
    table = get_settings().table_name
    for start in range(0, len(order_ids), 100):
        keys: list[Any] = [
            {"pk": _av(order_pk(oid)), "sk": _av(ORDER_SK)}
            for oid in dict.fromkeys(order_ids[start : start + 100])
        ]
        request: dict[str, Any] = {table: {"Keys": keys}}
        for _ in range(10):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                order = Order.model_validate(_plain(raw))
                found[order.order_id] = order
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
        else:
            raise TransientError("BatchGetItem kept leaving keys unprocessed")
    return [found[oid] for oid in order_ids if oid in found]


# ---------------------------------------------------------------- payment timers
#
# GSI5 is a sparse index of the payment timers still open: an unpaid order carries gsi5pk/gsi5sk from
# ingest until its payment or its timeout has been applied AND its execution told. The sort key starts
# with the moment the timer is due (the pay deadline; "now" once the outcome is decided but the
# execution not yet resumed), so the sweep reads exactly the timers that are due. Projection KEYS_ONLY.

PAY_DUE_INDEX = "GSI5"


def _due_key(moment: datetime) -> str:
    """Fixed-width UTC, so the index's string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pay_due_keys(order_id: str, due: datetime) -> dict[str, str]:
    shard = zlib.crc32(order_id.encode()) % get_settings().payment_timer_shards
    return {"gsi5pk": f"PAYDUE#{shard}", "gsi5sk": f"{_due_key(due)}#{order_id}"}


def due_payment_timers(now: datetime, limit: int = 500) -> list[str]:
    """Order ids whose payment timer is due at `now`, earliest first, across every shard."""
    found: list[str] = []
    upper = f"{_due_key(now)}#~"  # "~" sorts after every order id, so timers due exactly now are in
    for shard in range(get_settings().payment_timer_shards):
        items = _query_all(
            max_items=limit,
            IndexName=PAY_DUE_INDEX,
            KeyConditionExpression="gsi5pk = :pk AND gsi5sk <= :upper",
            ExpressionAttributeValues={":pk": _av(f"PAYDUE#{shard}"), ":upper": _av(upper)},
            Limit=limit,
        )
        found.extend(raw["gsi5sk"] for raw in items)
    found.sort()
    return [key.rsplit("#", 1)[1] for key in found[:limit]]


def get_event(order_id: str, seq: int) -> HistoryEvent | None:
    """One history event: who won the conditional write of a given version."""
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(order_pk(order_id)), "sk": _av(f"EVT#{seq:08d}")},
        ConsistentRead=True,
    )
    return HistoryEvent.model_validate(_plain(response["Item"])) if "Item" in response else None


def replace_payment_token(order_id: str, status: OrderStatus, token: str) -> bool:
    """A retried wait task has a new token: store it, only while the order still is in `status`."""
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
            UpdateExpression="SET #t = :token",
            ConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status", "#t": WAIT_TOKEN},
            ExpressionAttributeValues={":token": _av(token), ":status": _av(status.value)},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


def close_payment_timer(
    order_id: str, *, token: str | None = None, status: OrderStatus | None = None
) -> bool:
    """The execution has been told (or needs nothing): drop the order from the timer index.

    Bookkeeping, not a change of the order, so no version bump. Conditional on what the caller acted
    on: the token it delivered, or the status it saw, so a timer is never closed under a change the
    caller did not see.
    """
    conditions: list[str] = ["attribute_exists(pk)"]
    values: dict[str, Any] = {}
    names: dict[str, str] = {"#t": WAIT_TOKEN}
    if token is not None:
        conditions.append("#t = :token")
        values[":token"] = _av(token)
    if status is not None:
        conditions.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = _av(status.value)
    kwargs: dict[str, Any] = {"ExpressionAttributeNames": names}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
            UpdateExpression="REMOVE gsi5pk, gsi5sk, #t",
            ConditionExpression=" AND ".join(conditions),
            **kwargs,
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


def refund_flag_item(order_id: str, payment_id: str, detail: dict[str, Any]) -> TransactItem:
    """One item per payment that must be refunded: the same callback resent never flags it twice."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": order_pk(order_id),
                    "sk": f"REFUND#{payment_id}",
                    "payment_id": payment_id,
                    **detail,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


# ---------------------------------------------------------------- stock (inventory)
#
#   SKU#<sku> / WH#<wh>                 stock counter, shard 0: on_hand, reserved, available, layout
#   SKU#<sku>#S<k> / WH#<wh>            further counter shards of a hot SKU (their own partitions)
#   STOCKLOG#<sku>#<wh>#<k> / <at>#...  the ledger of shard k: one entry per movement, append-only
#   INVSYNC#<sku>#<wh>#<sync id> / SYNC a stock sync already applied (idempotency)
#   ORDER#<id> / RES#<sku>#<wh>         an open reservation (deleted when released or shipped)
#
# Every movement changes a counter and appends its ledger entry in the same transaction, guarded by
# the reservation item (reserve: must not exist; release/ship: must exist with that quantity) or the
# sync item, so it happens exactly once: on_hand = initial + restocks + adjustments - shipped, and
# reserved = the open reservations, per counter item, always.

STOCK_SK_PREFIX = "WH#"


def _stock_pk(sku: str, shard: int = 0) -> str:
    return f"SKU#{sku}" if shard == 0 else f"SKU#{sku}#S{shard}"


def _stock_key(sku: str, warehouse: str, shard: int = 0) -> dict[str, Any]:
    return {"pk": _av(_stock_pk(sku, shard)), "sk": _av(f"{STOCK_SK_PREFIX}{warehouse}")}


def _ledger_pk(sku: str, warehouse: str, shard: int) -> str:
    return f"STOCKLOG#{sku}#{warehouse}#{shard}"


def _shard_takes(r: Reservation) -> list[tuple[int, int]]:
    if not r.shards:
        return [(0, r.quantity)]
    return sorted((int(shard), quantity) for shard, quantity in r.shards.items() if quantity > 0)


def ledger_item(
    sku: str,
    warehouse: str,
    shard: int,
    kind: str,
    ref: str,
    *,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
) -> TransactItem:
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
    }
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": _ledger_pk(sku, warehouse, shard),
                    "sk": f"{at}#{ref}#{kind}#{uuid.uuid4().hex[:12]}",
                    **movement,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def get_stock_shards(sku: str, warehouse: str | None = None) -> list[StockShard]:
    """Every counter item of `sku` (or of one warehouse), sorted by warehouse then shard.

    One Query finds shard 0 of each warehouse (it carries the layout); a BatchGetItem reads the rest.
    """
    if warehouse is None:
        rows = _query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :wh)",
            ExpressionAttributeValues={":pk": _av(_stock_pk(sku)), ":wh": _av(STOCK_SK_PREFIX)},
            ConsistentRead=True,
        )
    else:
        response = aws.dynamodb().get_item(
            TableName=get_settings().table_name, Key=_stock_key(sku, warehouse), ConsistentRead=True
        )
        rows = [_plain(response["Item"])] if "Item" in response else []
    shards = [StockShard.model_validate(row) for row in rows]
    more = [_stock_key(sku, s.warehouse, k) for s in shards for k in range(1, s.shards)]
    shards += [StockShard.model_validate(row) for row in _batch_get(more)]
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


def reserve_items(order_id: str, reservations: Iterable[Reservation]) -> list[TransactItem]:
    """Per reservation: take from available (only if enough) and record it under the order (only once)."""
    table = get_settings().table_name
    items: list[TransactItem] = []
    for r in reservations:
        for shard, quantity in _shard_takes(r):
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _stock_key(r.sku, r.warehouse, shard),
                        "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
                        "ConditionExpression": "available >= :q",
                        "ExpressionAttributeValues": {":q": _av(quantity)},
                    }
                }
            )
            items.append(ledger_item(r.sku, r.warehouse, shard, "reserve", order_id, reserved_delta=quantity))
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": _item(
                        {
                            "pk": order_pk(order_id),
                            "sk": f"RES#{r.sku}#{r.warehouse}",
                            **r.model_dump(),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    return items


def release_items(order_id: str, reservations: Iterable[Reservation]) -> list[TransactItem]:
    """Give reserved stock back to available; each reservation can be released once."""
    return _consume_reservations({order_id: reservations}, "release")


def ship_items(order_id: str, reservations: Iterable[Reservation]) -> list[TransactItem]:
    """Stock leaves the warehouse: reserved and on_hand both drop; the reservation is used up."""
    return _consume_reservations({order_id: reservations}, "ship")


def ship_group_items(reservations_by_order: Mapping[str, Iterable[Reservation]]) -> list[TransactItem]:
    """合单: several orders' stock leaves together. One transaction may touch an item once, so each
    counter moves once by the orders' total; the ledger still has one entry per order."""
    return _consume_reservations(reservations_by_order, "ship")


_CONSUME_UPDATES = {
    "release": "SET available = available + :q, reserved = reserved - :q",
    "ship": "SET on_hand = on_hand - :q, reserved = reserved - :q",
}


def _consume_reservations(
    reservations_by_order: Mapping[str, Iterable[Reservation]], kind: str
) -> list[TransactItem]:
    table = get_settings().table_name
    totals: dict[tuple[str, str, int], int] = {}
    items: list[TransactItem] = []
    for order_id, reservations in reservations_by_order.items():
        for r in reservations:
            for shard, quantity in _shard_takes(r):
                key = (r.sku, r.warehouse, shard)
                totals[key] = totals.get(key, 0) + quantity
                items.append(
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
            items.append(
                {
                    "Delete": {
                        "TableName": table,
                        "Key": {"pk": _av(order_pk(order_id)), "sk": _av(f"RES#{r.sku}#{r.warehouse}")},
                        "ConditionExpression": "quantity = :q",
                        "ExpressionAttributeValues": {":q": _av(r.quantity)},
                    }
                }
            )
    counters: list[TransactItem] = [
        {
            "Update": {
                "TableName": table,
                "Key": _stock_key(sku, warehouse, shard),
                "UpdateExpression": _CONSUME_UPDATES[kind],
                "ConditionExpression": "reserved >= :q",
                "ExpressionAttributeValues": {":q": _av(quantity)},
            }
        }
        for (sku, warehouse, shard), quantity in totals.items()
    ]
    return counters + items


def shipment_item(shipment: Shipment, order_id: str | None = None) -> TransactItem:
    """The shipment as recorded under `order_id` (default: its own order; 合单 records it under each)."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": order_pk(order_id or shipment.order_id),
                    "sk": f"SHP#{shipment.shipment_id}",
                    **shipment.model_dump(mode="json"),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


# ---------------------------------------------------------------- stock sync and ledger reads


class StockChangedError(TransientError):
    """A counter moved between reading it and writing the sync: read again and recompute."""


class DuplicateSyncError(Exception):
    """This sync id was applied before; `record` is what was applied."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"sync {record.get('sync_id')} already applied")
        self.record = record


def _sync_key(sku: str, warehouse: str, sync_id: str) -> dict[str, Any]:
    return {"pk": _av(f"INVSYNC#{sku}#{warehouse}#{sync_id}"), "sk": _av("SYNC")}


def _get_record(key: dict[str, Any]) -> dict[str, Any] | None:
    """The attributes of the item at `key` (consistent read, without its keys), or None."""
    response = aws.dynamodb().get_item(TableName=get_settings().table_name, Key=key, ConsistentRead=True)
    if "Item" not in response:
        return None
    return {k: v for k, v in _plain(response["Item"]).items() if k not in {"pk", "sk"}}


def get_sync_record(sku: str, warehouse: str, sync_id: str) -> dict[str, Any] | None:
    return _get_record(_sync_key(sku, warehouse, sync_id))


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
    table = get_settings().table_name
    now = clock.now().isoformat()
    by_shard = {s.shard: s for s in current}
    layout = {"shards": max(len(new_on_hand), len(current)), "active": active}
    items: list[TransactItem] = []
    movements: list[StockMovement] = []
    for shard, target in enumerate(new_on_hand):
        existing = by_shard.get(shard)
        extra = layout if shard == 0 else {}
        if existing is None:
            items.append(
                {
                    "Put": {
                        "TableName": table,
                        "Item": _item(
                            {
                                "sku": sku,
                                "warehouse": warehouse,
                                "shard": shard,
                                "on_hand": target,
                                "reserved": 0,
                                "available": target,
                                "updated_at": now,
                                **extra,
                            }
                        )
                        | _stock_key(sku, warehouse, shard),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
            delta, movement_kind = target, kind or ("initial" if not current else "restock")
        else:
            sets = ["on_hand = :new", "available = :new - reserved", "updated_at = :at"]
            values = {":new": _av(target), ":expected": _av(existing.on_hand), ":at": _av(now)}
            for name, value in extra.items():
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = _av(value)
            items.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": _stock_key(sku, warehouse, shard),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ConditionExpression": "on_hand = :expected AND reserved <= :new",
                        "ExpressionAttributeValues": values,
                    }
                }
            )
            delta = target - existing.on_hand
            movement_kind = kind or ("restock" if delta > 0 else "adjust")
        if delta or existing is None:
            items.append(ledger_item(sku, warehouse, shard, movement_kind, ref, on_hand_delta=delta))
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
        items.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": _item({**sync_record, "applied_at": now}) | _sync_key(sku, warehouse, ref),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
    except ClientError as err:
        codes = _cancellation_codes(err)
        if sync_record is not None and codes and codes[-1] == "ConditionalCheckFailed":
            record = get_sync_record(sku, warehouse, ref)
            if record is not None:
                raise DuplicateSyncError(record) from err
        if "ConditionalCheckFailed" in codes:
            raise StockChangedError(f"{sku}@{warehouse} changed while syncing; read again") from err
        raise _translate(err) from err
    return movements


def stock_ledger(sku: str, warehouse: str | None = None) -> list[StockMovement]:
    """Every movement of `sku` (or of one warehouse), oldest first."""
    movements: list[StockMovement] = []
    for s in get_stock_shards(sku, warehouse):
        movements += [
            StockMovement.model_validate(raw)
            for raw in _query_all(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _av(_ledger_pk(sku, s.warehouse, s.shard))},
                ConsistentRead=True,
            )
        ]
    return sorted(movements, key=lambda m: (m.at, m.warehouse, m.shard))


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


# ---------------------------------------------------------------- backorder waitlist
#
#   BACKORDER#<sku> / <since>#<order id>   an order waiting for `sku`, with its execution's task token


def _waitlist_key(sku: str, order_id: str, since: str) -> dict[str, Any]:
    return {"pk": _av(f"BACKORDER#{sku}"), "sk": _av(f"{since}#{order_id}")}


def put_waitlist(sku: str, order_id: str, since: datetime, quantity: int, task_token: str) -> None:
    """Register (or refresh with a new token) an order waiting for a restock of `sku`."""
    key = _waitlist_key(sku, order_id, since.isoformat())
    aws.dynamodb().put_item(
        TableName=get_settings().table_name,
        Item=_item({"order_id": order_id, "sku": sku, "quantity": quantity, "task_token": task_token}) | key,
    )


def waitlist(sku: str, limit: int = 100) -> list[dict[str, Any]]:
    """Orders waiting for `sku`, longest waiting first."""
    return _query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": _av(f"BACKORDER#{sku}")},
        ConsistentRead=True,
        Limit=limit,
        max_items=limit,
    )[:limit]


def remove_waitlist_entry(entry: dict[str, Any]) -> bool:
    """Take an entry off the list, only if it still holds the same token (False: someone else did)."""
    try:
        aws.dynamodb().delete_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(entry["pk"]), "sk": _av(entry["sk"])},
            ConditionExpression="task_token = :t",
            ExpressionAttributeValues={":t": _av(entry["task_token"])},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


def waitlist_delete_items(order_id: str, since: datetime, skus: Iterable[str]) -> list[TransactItem]:
    """Transaction items taking an order off the waitlists of `skus` (whether or not it is on them)."""
    table = get_settings().table_name
    return [
        {"Delete": {"TableName": table, "Key": _waitlist_key(sku, order_id, since.isoformat())}}
        for sku in sorted(set(skus))
    ]


# ---------------------------------------------------------------- 合单 (merge) groups
#
#   MERGE#<buyer+address key> / OPEN   the group orders of that buyer and address may join now


def open_merge_group(key: str) -> dict[str, Any] | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(f"MERGE#{key}"), "sk": _av("OPEN")},
        ConsistentRead=True,
    )
    return _plain(response["Item"]) if "Item" in response else None


def merge_open_item(key: str, leader: str, closes_at: datetime, now: datetime) -> TransactItem:
    """Open a group led by `leader`, unless another group is still open for this buyer and address."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": f"MERGE#{key}",
                    "sk": "OPEN",
                    "leader": leader,
                    "closes_at": closes_at.isoformat(),
                    "members": 1,
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk) OR closes_at <= :now",
            "ExpressionAttributeValues": {":now": _av(now.isoformat())},
        }
    }


def merge_join_item(key: str, leader: str, now: datetime, max_orders: int) -> TransactItem:
    """Join the open group of `leader`: only while it is open and not full."""
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": {"pk": _av(f"MERGE#{key}"), "sk": _av("OPEN")},
            "UpdateExpression": "SET members = members + :one",
            "ConditionExpression": "leader = :leader AND closes_at > :now AND members < :max",
            "ExpressionAttributeValues": {
                ":one": _av(1),
                ":leader": _av(leader),
                ":now": _av(now.isoformat()),
                ":max": _av(max_orders),
            },
        }
    }


# ---------------------------------------------------------------- several orders in one transaction


class OrderMovedError(TransientError):
    """An order of a multi-order transaction was not in the status and version it was read at: read it
    again and decide again. (Throttling and transaction conflicts stay plain TransientError: the state
    machine retries those with back-off.)"""


@dataclass(frozen=True)
class OrderChange:
    """One order's part of a multi-order transaction: a status change, or (same status) an annotation."""

    order: Order
    target: OrderStatus
    event_type: str
    actor: str
    execution_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    set_fields: dict[str, Any] = field(default_factory=dict)


def change_items(change: OrderChange) -> tuple[list[TransactItem], Order]:
    """The order update (conditional on its status and version) and its history event, as transaction
    items; also the order as it will be. `target` may equal the current status (version still moves)."""
    order = change.order
    if change.target != order.status and not can_transition(order.status, change.target):
        raise IllegalTransitionError(order.order_id, order.status, change.target)
    at = clock.now()
    at_iso = at.isoformat()
    seq = order.version + 1
    event = HistoryEvent(
        seq=seq,
        at=at,
        type=change.event_type,
        from_status=order.status,
        to_status=change.target,
        actor=change.actor,
        execution_id=change.execution_id,
        detail=change.detail,
    )
    fields: dict[str, Any] = {
        "status": change.target.value,
        "version": seq,
        "updated_at": at_iso,
        **_status_index_keys(order.order_id, change.target, at_iso),
        **change.set_fields,
    }
    items: list[TransactItem] = _order_change_items(order, event, fields, (), ())
    data = order.model_dump()
    data.update(status=change.target, version=seq, updated_at=at, **change.set_fields)
    return items, Order.model_validate(data)


def apply_changes(changes: Sequence[OrderChange], extra_items: Sequence[TransactItem] = ()) -> list[Order]:
    """Apply several orders' changes and `extra_items` in one transaction, all or nothing.

    An order that moved since it was read raises OrderMovedError (read again and retry); an extra item
    that fails its condition raises TransactionRejected (indexes into extra_items); throttling and
    conflicts raise TransientError.
    """
    items: list[TransactItem] = []
    updated: list[Order] = []
    for change in changes:
        change_part, after = change_items(change)
        items += change_part
        updated.append(after)
    try:
        aws.dynamodb().transact_write_items(TransactItems=[*items, *extra_items])  # type: ignore[list-item]
    except ClientError as err:
        codes = _cancellation_codes(err)
        if not codes:
            raise _translate(err) from err
        own = len(items)
        if "ConditionalCheckFailed" in codes[:own]:
            moved = {changes[i // 2].order.order_id for i, c in enumerate(codes[:own]) if c != "None"}
            raise OrderMovedError(f"orders changed concurrently: {sorted(moved)}") from err
        failed = [i - own for i, c in enumerate(codes) if i >= own and c == "ConditionalCheckFailed"]
        if failed:
            raise TransactionRejected(failed, codes[own:]) from err
        raise TransientError(f"transaction cancelled: {codes}") from err
    return updated


def update_order_fields(order: Order, fields: dict[str, Any]) -> Order:
    """Set informational fields on an order still in the status it was read in (no version change)."""
    update, names, values = _set_remove(fields)
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(order_pk(order.order_id)), "sk": _av(ORDER_SK)},
            UpdateExpression=update,
            ConditionExpression="#status = :expected_status",
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues={**values, ":expected_status": _av(order.status.value)},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise TransientError(f"order {order.order_id} changed status; read again") from err
        raise _translate(err) from err
    return Order.model_validate({**order.model_dump(), **fields})


# ---------------------------------------------------------------- strategy center


RULES_PK = "RULES"
RULES_CURRENT_SK = "CURRENT"


def _rules_version_sk(version: int) -> str:
    return f"V#{version:08d}"


@dataclass(frozen=True)
class StoredRules:
    """One stored version of the rule set: the document (a RuleSet dump) and who saved it, when, why."""

    version: int
    document: dict[str, Any]
    saved_at: str | None = None
    saved_by: str | None = None
    comment: str | None = None


_RULES_META = {"pk", "sk", "saved_at", "saved_by", "comment"}


def _stored_rules(raw: dict[str, Any]) -> StoredRules:
    # Items written before versioning held the document itself, flat: read those as their document.
    document = (
        raw["document"] if "document" in raw else {k: v for k, v in raw.items() if k not in _RULES_META}
    )
    return StoredRules(
        version=int(raw.get("version", document.get("version", 0))),
        document=document,
        saved_at=raw.get("saved_at"),
        saved_by=raw.get("saved_by"),
        comment=raw.get("comment"),
    )


def get_current_rules() -> dict[str, Any] | None:
    """The rule document in force (RULES / CURRENT), or None when none was ever stored.

    Read on every call (no cache), so a new version takes effect on the next order without a restart.
    """
    stored = get_current_rules_record()
    return stored.document if stored is not None else None


def get_current_rules_record() -> StoredRules | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(RULES_PK), "sk": _av(RULES_CURRENT_SK)},
        ConsistentRead=True,
    )
    return _stored_rules(_plain(response["Item"])) if "Item" in response else None


def get_rules_version(version: int) -> StoredRules | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(RULES_PK), "sk": _av(_rules_version_sk(version))},
        ConsistentRead=True,
    )
    return _stored_rules(_plain(response["Item"])) if "Item" in response else None


def list_rules_versions(limit: int = 50) -> list[StoredRules]:
    """Stored versions, newest first (metadata and document)."""
    items = _query_all(
        max_items=limit,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": _av(RULES_PK), ":v": _av("V#")},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_stored_rules(raw) for raw in items[:limit]]


class StaleRulesError(Exception):
    """The rule set in force is no longer the version the caller based its change on."""


def save_rules(stored: StoredRules, replaces: int) -> None:
    """Store `stored` as RULES/V#<n> and make it CURRENT, only if CURRENT is still version `replaces`.

    One transaction: the version item is new (never overwritten) and CURRENT moves from exactly the
    version the editor read (version 0 = the defaults, no CURRENT item yet). A concurrent editor loses
    with StaleRulesError and nothing is written.
    """
    table = get_settings().table_name
    values = {
        "version": stored.version,
        "document": stored.document,
        "saved_at": stored.saved_at,
        "saved_by": stored.saved_by,
        "comment": stored.comment,
    }
    current_condition: dict[str, Any] = (
        {"ConditionExpression": "attribute_not_exists(pk)"}
        if replaces == 0
        else {
            "ConditionExpression": "#version = :replaces",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":replaces": _av(replaces)},
        }
    )
    items: list[TransactWriteItemTypeDef] = [
        {
            "Put": {
                "TableName": table,
                "Item": _item({"pk": RULES_PK, "sk": _rules_version_sk(stored.version), **values}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "Put": {
                "TableName": table,
                "Item": _item({"pk": RULES_PK, "sk": RULES_CURRENT_SK, **values}),
                **current_condition,  # type: ignore[typeddict-item]
            }
        },
    ]
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as err:
        if "ConditionalCheckFailed" in _cancellation_codes(err):
            raise StaleRulesError(f"rules changed since version {replaces}") from err
        raise _translate(err) from err


# ---------------------------------------------------------------- review: buyer velocity

# Long enough for the longest velocity window the rules allow (7 days); DynamoDB TTL removes the rest.
BUYER_ORDER_TTL_SECONDS = 8 * 24 * 3600


def _buyer_pk(platform: str, buyer_id: str) -> str:
    return f"BUYER#{platform}#{buyer_id}"


def _instant(at: datetime) -> str:
    """Fixed-width UTC text, so instants sort as strings."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_buyer_order(platform: str, buyer_id: str, order_id: str, at: datetime) -> None:
    """Note that the buyer placed `order_id` at `at` (idempotent: the same put again changes nothing)."""
    aws.dynamodb().put_item(
        TableName=get_settings().table_name,
        Item=_item(
            {
                "pk": _buyer_pk(platform, buyer_id),
                "sk": f"ORD#{_instant(at)}#{order_id}",
                "order_id": order_id,
                "expires_at": int(at.timestamp()) + BUYER_ORDER_TTL_SECONDS,
            }
        ),
    )


def count_buyer_orders(
    platform: str, buyer_id: str, since: datetime, until: datetime, *, exclude: str | None = None
) -> int:
    """Orders of the buyer received in [since, until], other than `exclude` (expired items skipped)."""
    now_epoch = int(clock.now().timestamp())
    items = _query_all(
        KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={
            ":pk": _av(_buyer_pk(platform, buyer_id)),
            ":lo": _av(f"ORD#{_instant(since)}"),
            ":hi": _av(f"ORD#{_instant(until)}#~"),
        },
        ProjectionExpression="order_id, expires_at",
        ConsistentRead=True,
    )
    return sum(
        1
        for raw in items
        if raw["order_id"] != exclude and int(raw.get("expires_at", now_epoch)) >= now_epoch
    )


# ---------------------------------------------------------------- holds: task tokens and annotations

# Attribute of the ORDER item holding the task token its execution waits on; not part of the Order model,
# so GET /orders never returns it.
WAIT_TOKEN = "wait_token"  # noqa: S105 - an attribute name, not a secret


def set_wait_token(order: Order, token: str, set_fields: dict[str, Any] | None = None) -> bool:
    """Store the task token the order's execution waits on, only if the order is still as read.

    Conditional on status and version: an interception (which bumps the version) that landed after the
    caller read the order makes this fail (False), so the caller re-reads and sees it.
    """
    fields = {WAIT_TOKEN: token, **(set_fields or {})}
    update, names, values = _set_remove(fields)
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(order_pk(order.order_id)), "sk": _av(ORDER_SK)},
            UpdateExpression=update,
            ConditionExpression="#status = :status AND #version = :version",
            ExpressionAttributeNames={**names, "#status": "status", "#version": "version"},
            ExpressionAttributeValues={
                **values,
                ":status": _av(order.status.value),
                ":version": _av(order.version),
            },
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


def get_wait_token(order_id: str) -> str | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
        ProjectionExpression="#t",
        ExpressionAttributeNames={"#t": WAIT_TOKEN},
        ConsistentRead=True,
    )
    token = _plain(response.get("Item", {})).get(WAIT_TOKEN)
    return str(token) if token else None


def clear_wait_token(order_id: str, token: str) -> None:
    """Forget a used token (only that one: a newer wait may already have stored its own)."""
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key={"pk": _av(order_pk(order_id)), "sk": _av(ORDER_SK)},
            UpdateExpression="REMOVE #t",
            ConditionExpression="#t = :token",
            ExpressionAttributeNames={"#t": WAIT_TOKEN},
            ExpressionAttributeValues={":token": _av(token)},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise _translate(err) from err


def annotate(
    order: Order,
    *,
    event_type: str,
    actor: str,
    set_fields: dict[str, Any],
    execution_id: str | None = None,
    detail: dict[str, Any] | None = None,
    remove_fields: Sequence[str] = (),
    extra_items: Sequence[TransactItem] = (),
) -> Order | None:
    """Change fields of the order without changing its status, with a history event, all or nothing.

    Conditional on the status and version the caller read (the version moves on, like a transition), so
    a concurrent change is never overwritten: None means "re-read and decide again". `remove_fields` are
    removed in the same update; `extra_items` join the transaction, and one of them failing its
    condition raises TransactionRejected (naming which).
    """
    at = clock.now()
    seq = order.version + 1
    event = HistoryEvent(
        seq=seq,
        at=at,
        type=event_type,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        execution_id=execution_id,
        detail=detail or {},
    )
    fields: dict[str, Any] = {"version": seq, "updated_at": at.isoformat(), **set_fields}
    try:
        aws.dynamodb().transact_write_items(
            TransactItems=_order_change_items(order, event, fields, remove_fields, extra_items)
        )
    except ClientError as err:
        codes = _cancellation_codes(err)
        if "ConditionalCheckFailed" in codes[:2]:
            return None
        _raise_if_extras_rejected(err, codes)
        raise _translate(err) from err
    data = order.model_dump()
    for name in remove_fields:
        data.pop(name, None)
    data.update(version=seq, updated_at=at, **set_fields)
    return Order.model_validate(data)


# ---------------------------------------------------------------- request signatures (replay guard)


def remember_signature(platform: str, signature: str, expires_at: datetime) -> bool:
    """Record a platform request signature; False when it was already seen (a replay).

    The conditional put makes the check and the record one step, so two copies of a request racing
    each other cannot both pass. `expires_at` lets DynamoDB's TTL delete the item once the signature's
    timestamp is outside the replay window anyway (where the freshness check refuses it first).
    """
    try:
        aws.dynamodb().put_item(
            TableName=get_settings().table_name,
            Item=_item(
                {
                    "pk": f"SIG#{platform}#{signature}",
                    "sk": "SIG",
                    "seen_at": clock.now().isoformat(),
                    "expires_at": int(expires_at.timestamp()),
                }
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


# ---------------------------------------------------------------- after-sales (functions/aftersales)
#
#   ORDER#<id> / CASE#<case id>          an after-sales case (its execution's task token beside it)
#   ORDER#<id> / LINE#<sku>              money and units of one order line claimed by after-sales:
#                                        paid, quantity, committed (refunds due or done, exchanges),
#                                        committed_qty, refunded, returned (units back in a warehouse)
#   ORDER#<id> / ASREFUND#<refund id>    a refund issued for a case: put once, settled once
#   ASDUE#<shard> / <due>#<case id>      a return-shipping deadline still open (the sweep reads it)
#   BUYERCASE#<platform>#<buyer> / ...   the buyer's cases by time (good standing)
#
# Every line counter moves by conditional update (committed never above paid, committed_qty never above
# the line's quantity, refunded never above paid), in the transaction that opens, settles or closes the
# case, so concurrent cases cannot claim the same money or units twice.

CASE_PREFIX = "CASE#"
LINE_PREFIX = "LINE#"
ASDUE_SHARDS = 4


def case_key(order_id: str, case_id: str) -> dict[str, Any]:
    return {"pk": _av(order_pk(order_id)), "sk": _av(f"{CASE_PREFIX}{case_id}")}


def case_put_item(doc: dict[str, Any]) -> TransactItem:
    """A new case (its id must be new: a resent request with the same reference finds it instead)."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item({"pk": order_pk(doc["order_id"]), "sk": f"{CASE_PREFIX}{doc['case_id']}", **doc}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def case_update_item(
    order_id: str, case_id: str, version: int, fields: dict[str, Any], remove: Sequence[str] = ()
) -> TransactItem:
    """Change a case read at `version` (moves it to version + 1); refused if anyone changed it since."""
    fields = {**fields, "version": version + 1}
    update, names, values = _set_remove(fields, remove)
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": case_key(order_id, case_id),
            "UpdateExpression": update,
            "ConditionExpression": "#version = :expected_version",
            "ExpressionAttributeNames": {**names, "#version": "version"},
            "ExpressionAttributeValues": {**values, ":expected_version": _av(version)},
        }
    }


def get_case(order_id: str, case_id: str) -> dict[str, Any] | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name, Key=case_key(order_id, case_id), ConsistentRead=True
    )
    if "Item" not in response:
        return None
    return {k: v for k, v in _plain(response["Item"]).items() if k not in {"pk", "sk", WAIT_TOKEN}}


def list_cases(order_id: str) -> list[dict[str, Any]]:
    items = _query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": _av(order_pk(order_id)), ":prefix": _av(CASE_PREFIX)},
        ConsistentRead=True,
    )
    return [{k: v for k, v in raw.items() if k not in {"pk", "sk", WAIT_TOKEN}} for raw in items]


def write_items(items: Sequence[TransactItem]) -> None:
    """One transaction of the caller's items; TransactionRejected names the items whose condition failed."""
    try:
        aws.dynamodb().transact_write_items(TransactItems=list(items))  # type: ignore[arg-type]
    except ClientError as err:
        codes = _cancellation_codes(err)
        failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
        if failed:
            raise TransactionRejected(failed, codes) from err
        raise _translate(err) from err


def set_case_wait_token(order_id: str, case_id: str, status: str, token: str) -> bool:
    """Store the token the case's execution waits on, only while the case is still in `status`."""
    try:
        aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key=case_key(order_id, case_id),
            UpdateExpression="SET #t = :token",
            ConditionExpression="#status = :status",
            ExpressionAttributeNames={"#t": WAIT_TOKEN, "#status": "status"},
            ExpressionAttributeValues={":token": _av(token), ":status": _av(status)},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise _translate(err) from err
    return True


def take_case_wait_token(order_id: str, case_id: str) -> str | None:
    """The token the case's execution waits on, removed (the caller resumes it; None: nobody waits)."""
    try:
        response = aws.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key=case_key(order_id, case_id),
            UpdateExpression="REMOVE #t",
            ConditionExpression="attribute_exists(#t)",
            ExpressionAttributeNames={"#t": WAIT_TOKEN},
            ReturnValues="ALL_OLD",
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise _translate(err) from err
    token = _plain(response.get("Attributes", {})).get(WAIT_TOKEN)
    return str(token) if token else None


def line_counters(order_id: str) -> dict[str, dict[str, Any]]:
    """The after-sales counters of the order's lines, by SKU (absent: nothing claimed yet)."""
    items = _query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": _av(order_pk(order_id)), ":prefix": _av(LINE_PREFIX)},
        ConsistentRead=True,
    )
    return {raw["sku"]: raw for raw in items}


def _line_key(order_id: str, sku: str) -> dict[str, Any]:
    return {"pk": _av(order_pk(order_id)), "sk": _av(f"{LINE_PREFIX}{sku}")}


def line_commit_item(
    order_id: str,
    sku: str,
    *,
    paid: Decimal,
    quantity: int,
    amount: Decimal,
    units: int,
    exact_from: tuple[Decimal, int] | None = None,
) -> TransactItem:
    """Claim `amount` of the line's money and `units` of its quantity for a case.

    Refused unless committed + amount <= paid and committed_qty + units <= quantity; with `exact_from`
    (the line's last units take what is left) only if the counter is still exactly (committed, units).
    """
    values: dict[str, Any] = {
        ":paid": _av(paid),
        ":quantity": _av(quantity),
        ":zero": _av(0),
        ":amount": _av(amount),
        ":units": _av(units),
    }
    if exact_from is not None:
        before_amount, before_units = exact_from
        values[":before_amount"], values[":before_units"] = _av(before_amount), _av(before_units)
        condition = "committed = :before_amount AND committed_qty = :before_units"
        if before_amount == 0 and before_units == 0:
            condition = f"attribute_not_exists(pk) OR ({condition})"
    else:
        values[":limit"], values[":qlimit"] = _av(paid - amount), _av(quantity - units)
        condition = "attribute_not_exists(pk) OR (committed <= :limit AND committed_qty <= :qlimit)"
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": _line_key(order_id, sku),
            "UpdateExpression": (
                "SET sku = :sku, paid = :paid, quantity = :quantity,"
                " committed = if_not_exists(committed, :zero) + :amount,"
                " committed_qty = if_not_exists(committed_qty, :zero) + :units,"
                " refunded = if_not_exists(refunded, :zero), returned = if_not_exists(returned, :zero)"
            ),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {**values, ":sku": _av(sku)},
        }
    }


def line_release_item(order_id: str, sku: str, amount: Decimal, units: int) -> TransactItem:
    """Give back what a case claimed and did not use (rejected, closed without the return)."""
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": _line_key(order_id, sku),
            "UpdateExpression": "SET committed = committed - :amount, committed_qty = committed_qty - :units",
            "ConditionExpression": "committed >= :amount AND committed_qty >= :units",
            "ExpressionAttributeValues": {":amount": _av(amount), ":units": _av(units)},
        }
    }


def line_refund_item(order_id: str, sku: str, amount: Decimal, paid: Decimal) -> TransactItem:
    """Money of the line went back to the buyer: refused if that would take refunded above paid."""
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": _line_key(order_id, sku),
            "UpdateExpression": "SET refunded = refunded + :amount",
            "ConditionExpression": "refunded <= :limit",
            "ExpressionAttributeValues": {":amount": _av(amount), ":limit": _av(paid - amount)},
        }
    }


def line_return_item(order_id: str, sku: str, units: int, returned_before: int) -> TransactItem:
    """Units of the line came back to a warehouse (only if `returned_before` is still the count, and
    never more than after-sales cases claimed)."""
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": _line_key(order_id, sku),
            "UpdateExpression": "SET returned = returned + :units",
            "ConditionExpression": "returned = :before AND committed_qty >= :after",
            "ExpressionAttributeValues": {
                ":units": _av(units),
                ":before": _av(returned_before),
                ":after": _av(returned_before + units),
            },
        }
    }


def return_to_stock_items(sku: str, warehouse: str, units: int, ref: str) -> list[TransactItem]:
    """A resellable return goes back on the shelf of the warehouse it shipped from: on_hand and
    available rise on the counter's first shard, with a `returned` ledger entry in the same transaction."""
    return [
        {
            "Update": {
                "TableName": get_settings().table_name,
                "Key": _stock_key(sku, warehouse),
                "UpdateExpression": "SET on_hand = on_hand + :q, available = available + :q",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":q": _av(units)},
            }
        },
        ledger_item(sku, warehouse, 0, "returned", ref, on_hand_delta=units),
    ]


def refund_put_item(order_id: str, refund_id: str, doc: dict[str, Any]) -> TransactItem:
    """Issue a refund: the item is created once (its id comes from the case), whoever asks again."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item({"pk": order_pk(order_id), "sk": f"ASREFUND#{refund_id}", **doc}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def refund_settle_item(order_id: str, refund_id: str, fields: dict[str, Any]) -> TransactItem:
    """The provider confirmed the refund: requested -> succeeded, once."""
    update, names, values = _set_remove({**fields, "status": "succeeded"})
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": {"pk": _av(order_pk(order_id)), "sk": _av(f"ASREFUND#{refund_id}")},
            "UpdateExpression": update,
            "ConditionExpression": "#status = :requested",
            "ExpressionAttributeNames": {**names, "#status": "status"},
            "ExpressionAttributeValues": {**values, ":requested": _av("requested")},
        }
    }


def get_refund(order_id: str, refund_id: str) -> dict[str, Any] | None:
    return _get_record({"pk": _av(order_pk(order_id)), "sk": _av(f"ASREFUND#{refund_id}")})


def _asdue_key(case_id: str, due: datetime) -> dict[str, Any]:
    shard = zlib.crc32(case_id.encode()) % ASDUE_SHARDS
    return {"pk": _av(f"ASDUE#{shard}"), "sk": _av(f"{_due_key(due)}#{case_id}")}


def return_deadline_put_item(order_id: str, case_id: str, due: datetime) -> TransactItem:
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": {**_asdue_key(case_id, due), **_item({"order_id": order_id, "case_id": case_id})},
        }
    }


def return_deadline_delete_item(case_id: str, due: datetime) -> TransactItem:
    return {"Delete": {"TableName": get_settings().table_name, "Key": _asdue_key(case_id, due)}}


def due_return_deadlines(now: datetime, limit: int = 200) -> list[tuple[str, str]]:
    """(order id, case id) of return deadlines due at `now`, earliest first, across the shards."""
    found: list[dict[str, Any]] = []
    for shard in range(ASDUE_SHARDS):
        found += _query_all(
            max_items=limit,
            KeyConditionExpression="pk = :pk AND sk <= :upper",
            ExpressionAttributeValues={":pk": _av(f"ASDUE#{shard}"), ":upper": _av(f"{_due_key(now)}#~")},
            ConsistentRead=True,
            Limit=limit,
        )
    found.sort(key=lambda raw: str(raw["sk"]))
    return [(str(raw["order_id"]), str(raw["case_id"])) for raw in found[:limit]]


def buyer_case_item(platform: str, buyer_id: str, case_id: str, at: datetime) -> TransactItem:
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": f"BUYERCASE#{platform}#{buyer_id}",
                    "sk": f"{_instant(at)}#{case_id}",
                    "case_id": case_id,
                }
            ),
        }
    }


def count_buyer_cases(platform: str, buyer_id: str, since: datetime, *, exclude: str) -> int:
    items = _query_all(
        KeyConditionExpression="pk = :pk AND sk >= :lo",
        ExpressionAttributeValues={
            ":pk": _av(f"BUYERCASE#{platform}#{buyer_id}"),
            ":lo": _av(_instant(since)),
        },
        ProjectionExpression="case_id",
        ConsistentRead=True,
    )
    return sum(1 for raw in items if raw["case_id"] != exclude)


# ---------------------------------------------------------------- helpers


def _query_all(max_items: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    client = aws.dynamodb()
    items: list[dict[str, Any]] = []
    while True:
        response = client.query(TableName=get_settings().table_name, **kwargs)
        items.extend(_plain(raw) for raw in response.get("Items", []))
        if "LastEvaluatedKey" not in response or (max_items is not None and len(items) >= max_items):
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _batch_get(keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consistent BatchGetItem of any number of keys (100 a request, unprocessed keys retried)."""
    client = aws.dynamodb()
    table = get_settings().table_name
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(_plain(raw) for raw in response.get("Responses", {}).get(table, []))
            request = dict(response.get("UnprocessedKeys") or {})
    return found


def _cancellation_codes(err: ClientError) -> list[str]:
    if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons = err.response.get("CancellationReasons", [])  # type: ignore[typeddict-item]
    return [str(r.get("Code", "None")) for r in reasons]


_TRANSIENT = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionConflictException",
    "TransactionInProgressException",
}


def _translate(err: ClientError) -> Exception:
    code = err.response.get("Error", {}).get("Code", "")
    if code in _TRANSIENT or "TransactionConflict" in _cancellation_codes(err):
        return TransientError(f"DynamoDB {code}")
    return err


# ---------------------------------------------------------------- shipping: tracking and logistics exceptions
#
#   SHIPMENT#<id> / TRACKING          one physical parcel's tracking state (functions/ship/tracking.py)
#   SHIPMENT#<id> / TRK#<event id>    a carrier event, kept once (the conditional put is the idempotency)
#   EXC#<id> / CASE                   a logistics exception case (functions/logistics)
#
# QueueIndex (sparse, ALL) lists work: parcels whose tracking SLA is armed (qpk SHIPDUE#<shard>, qsk
# <due>#<shipment id>; the delay check reads those due) and exception cases by status (qpk EXC#<status>,
# qsk <opened at>#<id>).

QUEUE_INDEX = "QueueIndex"
TRACKING_SK = "TRACKING"
EXCEPTION_SK = "CASE"


def shipment_pk(shipment_id: str) -> str:
    return f"SHIPMENT#{shipment_id}"


def _ship_due_keys(shipment_id: str, due: datetime) -> dict[str, str]:
    shard = zlib.crc32(shipment_id.encode()) % get_settings().shipment_due_shards
    return {"qpk": f"SHIPDUE#{shard}", "qsk": f"{_due_key(due)}#{shipment_id}"}


def tracking_record_item(tracking: ShipmentTracking) -> TransactItem:
    """A new parcel's tracking record (written once, in the Ship transaction), with its SLA armed."""
    keys = _ship_due_keys(tracking.shipment_id, tracking.progress_due) if tracking.progress_due else {}
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": shipment_pk(tracking.shipment_id),
                    "sk": TRACKING_SK,
                    **keys,
                    **tracking.model_dump(mode="json", exclude_none=True),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def get_tracking(shipment_id: str) -> ShipmentTracking | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(shipment_pk(shipment_id)), "sk": _av(TRACKING_SK)},
        ConsistentRead=True,
    )
    return ShipmentTracking.model_validate(_plain(response["Item"])) if "Item" in response else None


def tracking_update_item(before: ShipmentTracking, after: ShipmentTracking) -> TransactItem:
    """Move the parcel's record from `before` (its version must still be stored) to `after`; the SLA
    entry in QueueIndex follows `after.progress_due` (None: removed, the parcel is not watched)."""
    fields = after.model_dump(mode="json", exclude={"shipment_id", "created_at"})
    fields["version"] = before.version + 1
    remove = [name for name, value in fields.items() if value is None]
    fields = {k: v for k, v in fields.items() if v is not None}
    if after.progress_due is not None:
        fields.update(_ship_due_keys(after.shipment_id, after.progress_due))
    else:
        remove += ["qpk", "qsk"]
    update, names, values = _set_remove(fields, remove)
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": {"pk": _av(shipment_pk(before.shipment_id)), "sk": _av(TRACKING_SK)},
            "UpdateExpression": update,
            "ConditionExpression": "#version = :expected_version",
            "ExpressionAttributeNames": {**names, "#version": "version"},
            "ExpressionAttributeValues": {**values, ":expected_version": _av(before.version)},
        }
    }


def tracking_event_item(shipment_id: str, record: dict[str, Any]) -> TransactItem:
    """Keep a carrier event once: a second copy of the same event id fails this condition."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item({"pk": shipment_pk(shipment_id), "sk": f"TRK#{record['event_id']}", **record}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def get_tracking_event(shipment_id: str, event_id: str) -> dict[str, Any] | None:
    return _get_record({"pk": _av(shipment_pk(shipment_id)), "sk": _av(f"TRK#{event_id}")})


def tracking_events(shipment_id: str) -> list[dict[str, Any]]:
    """Every carrier event kept for the parcel (applied or not), in the order they happened."""
    items = _query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :trk)",
        ExpressionAttributeValues={":pk": _av(shipment_pk(shipment_id)), ":trk": _av("TRK#")},
        ConsistentRead=True,
    )
    events = [{k: v for k, v in raw.items() if k not in {"pk", "sk"}} for raw in items]
    return sorted(
        events,
        key=lambda e: (datetime.fromisoformat(str(e["occurred_at"])), str(e.get("received_at", ""))),
    )


def due_shipments(now: datetime, limit: int = 500) -> list[ShipmentTracking]:
    """Parcels whose tracking SLA ran out by `now`, earliest first, across every shard (QueueIndex)."""
    found: list[dict[str, Any]] = []
    upper = f"{_due_key(now)}#~"
    for shard in range(get_settings().shipment_due_shards):
        found += _query_all(
            max_items=limit,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="qpk = :pk AND qsk <= :upper",
            ExpressionAttributeValues={":pk": _av(f"SHIPDUE#{shard}"), ":upper": _av(upper)},
            Limit=limit,
        )
    found.sort(key=lambda raw: str(raw["qsk"]))
    return [ShipmentTracking.model_validate(raw) for raw in found[:limit]]


def order_events_change(
    order: Order,
    target: OrderStatus,
    events: Sequence[tuple[str, dict[str, Any]]],
    *,
    actor: str,
    set_fields: dict[str, Any] | None = None,
) -> tuple[list[TransactItem], Order]:
    """Several history events of one order in one change (e.g. shipment.delivered then order.delivered):
    the order update, conditional on the status and version read, moves the version by one per event;
    the last event carries the status change (if any)."""
    if target != order.status and not can_transition(order.status, target):
        raise IllegalTransitionError(order.order_id, order.status, target)
    if not events:
        raise ValueError("an order change needs at least one event")
    at = clock.now()
    at_iso = at.isoformat()
    history = [
        HistoryEvent(
            seq=order.version + 1 + i,
            at=at,
            type=event_type,
            from_status=order.status,
            to_status=target if i == len(events) - 1 else order.status,
            actor=actor,
            detail=detail,
        )
        for i, (event_type, detail) in enumerate(events)
    ]
    version = order.version + len(events)
    fields: dict[str, Any] = {"version": version, "updated_at": at_iso, **(set_fields or {})}
    if target != order.status:
        fields.update({"status": target.value, **_status_index_keys(order.order_id, target, at_iso)})
    more_events = [
        {
            "Put": {
                "TableName": get_settings().table_name,
                "Item": _event_item(order.order_id, event),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for event in history[1:]
    ]
    items = _order_change_items(order, history[0], fields, (), more_events)
    data = order.model_dump()
    data.update(status=target, version=version, updated_at=at, **(set_fields or {}))
    return items, Order.model_validate(data)


def run_transaction(items: Sequence[TransactItem]) -> None:
    """All of `items` or none. A failed condition raises TransactionRejected (indexes into `items`);
    throttling and conflicts raise TransientError."""
    try:
        aws.dynamodb().transact_write_items(TransactItems=list(items))  # type: ignore[arg-type]
    except ClientError as err:
        codes = _cancellation_codes(err)
        failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
        if failed:
            raise TransactionRejected(failed, codes) from err
        raise _translate(err) from err


def _exception_queue_keys(case: ExceptionCase) -> dict[str, str]:
    return {"qpk": f"EXC#{case.status}", "qsk": f"{_due_key(case.opened_at)}#{case.exception_id}"}


def exception_item(case: ExceptionCase) -> TransactItem:
    """Open a case once (its id is deterministic: the same damage reported twice is one case)."""
    return {
        "Put": {
            "TableName": get_settings().table_name,
            "Item": _item(
                {
                    "pk": f"EXC#{case.exception_id}",
                    "sk": EXCEPTION_SK,
                    **_exception_queue_keys(case),
                    **case.model_dump(mode="json", exclude_none=True),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def exception_resolve_item(case: ExceptionCase, resolution: ExceptionResolution) -> TransactItem:
    """Resolve an open case (only while it is open: a second resolution fails this condition)."""
    resolved = case.model_copy(update={"status": "resolved", "resolution": resolution})
    keys = _exception_queue_keys(resolved)
    return {
        "Update": {
            "TableName": get_settings().table_name,
            "Key": {"pk": _av(f"EXC#{case.exception_id}"), "sk": _av(EXCEPTION_SK)},
            "UpdateExpression": "SET #status = :resolved, resolution = :resolution, qpk = :qpk, qsk = :qsk",
            "ConditionExpression": "#status = :open",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":resolved": _av("resolved"),
                ":open": _av("open"),
                ":resolution": _av(resolution.model_dump(mode="json", exclude_none=True)),
                ":qpk": _av(keys["qpk"]),
                ":qsk": _av(keys["qsk"]),
            },
        }
    }


def get_exception(exception_id: str) -> ExceptionCase | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(f"EXC#{exception_id}"), "sk": _av(EXCEPTION_SK)},
        ConsistentRead=True,
    )
    return ExceptionCase.model_validate(_plain(response["Item"])) if "Item" in response else None


def list_exceptions(status: str, limit: int = 100) -> list[ExceptionCase]:
    """Cases in `status` (open, resolved), oldest first (QueueIndex; eventually consistent on AWS)."""
    items = _query_all(
        max_items=limit,
        IndexName=QUEUE_INDEX,
        KeyConditionExpression="qpk = :pk",
        ExpressionAttributeValues={":pk": _av(f"EXC#{status}")},
        Limit=limit,
    )
    return [ExceptionCase.model_validate(raw) for raw in items[:limit]]


def writeoff_item(sku: str, warehouse: str, quantity: int, ref: str) -> TransactItem:
    """A ledger entry for units that left with a shipment and never come back to stock (a damaged or
    lost parcel, a return found damaged): the counters already lost them at shipping, so the entry
    moves nothing and says why they are gone."""
    item = ledger_item(sku, warehouse, 0, "writeoff", ref)
    item["Put"]["Item"]["quantity"] = _av(quantity)
    return item


# ---------------------------------------------------------------- sales pre-aggregates (functions/reports)
#
#   SALES#P#<shard>     / <day>#<platform>          counters per (day, platform), one item per write shard
#   SALES#S#<shard>     / <day>#<platform>#<sku>    counters per (day, platform, SKU)
#   SALESMARK#<order>   / <item sk>#<part>          "this contribution is counted" (idempotency marker)
#
# Counters are numbers ADDed to (orders, sales, units, cancelled, refunds, revenue_<CUR>, ...). The
# aggregator's IAM policy may only write items whose partition key starts with SALES (docs/reports.md).

SALES_PK = "SALES#{scope}#{shard}"
SALES_MARKER_PK = "SALESMARK#"
# Stream records are redelivered for at most 24 hours (the stream's retention): markers outlive that.
SALES_MARKER_TTL_SECONDS = 7 * 24 * 3600

SalesCounterKey = tuple[str, str, str]  # (scope "P" | "S", day "YYYY-MM-DD", name)


def apply_sales_counters(
    markers: Sequence[tuple[str, str]],
    counters: Mapping[SalesCounterKey, Mapping[str, Decimal]],
    shard: int,
) -> list[int]:
    """ADD `counters` (one update per counter item, in write shard `shard`) and put `markers`
    ((order id, marker sk) pairs, each only if absent), as one transaction.

    Returns [] when applied, or the indexes of the markers that already existed, in which case nothing
    was written (the caller drops those contributions, counted before, and applies the rest again).
    """
    table = get_settings().table_name
    expires_at = int(clock.now().timestamp()) + SALES_MARKER_TTL_SECONDS
    items: list[Any] = [
        {
            "Put": {
                "TableName": table,
                "Item": _item({"pk": f"{SALES_MARKER_PK}{order_id}", "sk": sk, "expires_at": expires_at}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for order_id, sk in markers
    ]
    for (scope, day, name), delta in counters.items():
        names = {f"#c{i}": counter for i, counter in enumerate(delta)}
        values = {f":c{i}": _av(amount) for i, amount in enumerate(delta.values())}
        items.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {
                        "pk": _av(SALES_PK.format(scope=scope, shard=shard)),
                        "sk": _av(f"{day}#{name}"),
                    },
                    "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(delta))),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        )
    if not items:
        return []
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as err:
        codes = _cancellation_codes(err)
        counted = [i for i, code in enumerate(codes[: len(markers)]) if code == "ConditionalCheckFailed"]
        if counted:
            return counted
        raise _translate(err) from err
    return []


def query_sales_counters(
    scope: str, first_day: str, last_day: str, shards: int, max_items: int | None = None
) -> tuple[list[tuple[str, str, dict[str, Decimal]]], bool]:
    """Every counter item of `scope` for the days first..last (inclusive), across all write shards:
    one paginated Query per shard. Returns ((day, name, counters), truncated by max_items)."""
    rows: list[tuple[str, str, dict[str, Decimal]]] = []
    truncated = False
    for shard in range(shards):
        found = _query_all(
            max_items=max_items,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": _av(SALES_PK.format(scope=scope, shard=shard)),
                ":lo": _av(f"{first_day}#"),
                ":hi": _av(f"{last_day}#~"),
            },
        )
        if max_items is not None and len(found) >= max_items:
            truncated = True
        for raw in found:
            day, _, name = str(raw.pop("sk")).partition("#")
            raw.pop("pk", None)
            rows.append((day, name, {k: Decimal(str(v)) for k, v in raw.items()}))
    return rows, truncated


def stream_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream record's NewImage (DynamoDB JSON) as plain values, like every item this module reads."""
    return _plain(dict(image))


# ------------------------------------------------------------ published integration events (functions/events)
#   EVENTS#<order id> / PUB#<seq>#<n>   what the outbox publisher put on the bus for history event <seq>
#   (GSI1: EVENTTYPE#<type>#<shard> / <occurred_at>#<event id>, the latest events of a type)
# Kept outside the order's partition, so loading an order never reads them.


def history_event_from_image(image: Mapping[str, Any]) -> tuple[str, HistoryEvent]:
    """(order id, history event) of an EVT# item as a DynamoDB stream record's NewImage carries it."""
    item = _plain(dict(image))
    pk = str(item.get("pk", ""))
    if not pk.startswith("ORDER#") or not str(item.get("sk", "")).startswith("EVT#"):
        raise ValueError(f"not a history event item: {pk}/{item.get('sk')}")
    return pk.removeprefix("ORDER#"), HistoryEvent.model_validate(item)


@dataclass(frozen=True)
class Published:
    """One event the publisher put on the bus (the n-th of history event `seq` of the order)."""

    order_id: str
    seq: int
    index: int
    detail_type: str
    detail: Mapping[str, Any]
    bus_event_id: str


def record_published(events: Sequence[Published]) -> None:
    """Remember published events, 25 a request (idempotent: a republished event overwrites its record)."""
    now = clock.now().isoformat()
    requests = [
        {
            "PutRequest": {
                "Item": _item(
                    {
                        "pk": f"EVENTS#{e.order_id}",
                        "sk": f"PUB#{e.seq:08d}#{e.index:02d}",
                        "gsi1pk": f"EVENTTYPE#{e.detail_type}#{_shard(e.order_id)}",
                        "gsi1sk": f"{e.detail.get('occurred_at', '')}#{e.detail.get('event_id', '')}",
                        "detail_type": e.detail_type,
                        "bus_event_id": e.bus_event_id,
                        "published_at": now,
                        "detail": dict(e.detail),
                    }
                )
            }
        }
        for e in events
    ]
    client = aws.dynamodb()
    table = get_settings().table_name
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[start : start + 25]}
        for _ in range(8):
            unprocessed = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            pending = dict(unprocessed)
        else:
            raise TransientError("DynamoDB kept items of a BatchWriteItem unprocessed")


def published_events(order_id: str) -> list[dict[str, Any]]:
    """The events published for one order, in history order."""
    items = _query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :pub)",
        ExpressionAttributeValues={":pk": _av(f"EVENTS#{order_id}"), ":pub": _av("PUB#")},
    )
    return [_published(item) for item in items]


def published_events_of_type(detail_type: str, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` published events of one type, newest first (every shard of the index)."""
    found: list[dict[str, Any]] = []
    for shard in range(get_settings().status_index_shards):
        found += _query_all(
            max_items=limit,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": _av(f"EVENTTYPE#{detail_type}#{shard}")},
            ScanIndexForward=False,
            Limit=limit,
        )
    found.sort(key=lambda item: str(item.get("gsi1sk", "")), reverse=True)
    return [_published(item) for item in found[:limit]]


def _published(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "detail_type": item["detail_type"],
        "bus_event_id": item.get("bus_event_id"),
        "published_at": item.get("published_at"),
        "detail": item.get("detail", {}),
    }


# ------------------------------------------------------------ outbound webhooks (functions/webhooks)
#   WEBHOOKS / <platform>                         a platform's webhook endpoint (one partition: few platforms)
#   DELIVERIES#<order id> / <event id>#<platform>  one event's delivery to a platform: status, attempts


def put_webhook_endpoint(platform: str, document: Mapping[str, Any]) -> None:
    aws.dynamodb().put_item(
        TableName=get_settings().table_name,
        Item=_item({"pk": "WEBHOOKS", "sk": platform, "platform": platform, **document}),
    )


def webhook_endpoint(platform: str) -> dict[str, Any] | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av("WEBHOOKS"), "sk": _av(platform)},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return _strip_keys(_plain(item)) if item else None


def webhook_endpoints() -> list[dict[str, Any]]:
    items = _query_all(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _av("WEBHOOKS")})
    return [_strip_keys(item) for item in items]


def webhook_delivery(order_id: str, event_id: str, platform: str) -> dict[str, Any] | None:
    response = aws.dynamodb().get_item(
        TableName=get_settings().table_name,
        Key={"pk": _av(f"DELIVERIES#{order_id}"), "sk": _av(f"{event_id}#{platform}")},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return _strip_keys(_plain(item)) if item else None


def record_webhook_delivery(order_id: str, event_id: str, platform: str, document: Mapping[str, Any]) -> None:
    """Record an attempt's outcome. Once `delivered`, never overwritten by a late failure report."""
    try:
        aws.dynamodb().put_item(
            TableName=get_settings().table_name,
            Item=_item(
                {
                    "pk": f"DELIVERIES#{order_id}",
                    "sk": f"{event_id}#{platform}",
                    "order_id": order_id,
                    "event_id": event_id,
                    "platform": platform,
                    **document,
                }
            ),
            ConditionExpression="attribute_not_exists(pk) OR #s <> :delivered",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":delivered": _av("delivered")},
        )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise _translate(err) from err


def webhook_deliveries(order_id: str) -> list[dict[str, Any]]:
    items = _query_all(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": _av(f"DELIVERIES#{order_id}")}
    )
    return [_strip_keys(item) for item in items]


def _strip_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}
