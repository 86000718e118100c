"""Capacity units of DynamoDB requests the local stack served, by DynamoDB's billing rules (benchmarks)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WRITE_ACTIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READ_ACTIONS = {"GetItem", "Query", "Scan", "TransactGetItems", "BatchGetItem"}


@dataclass
class DynamoRecord:
    """One DynamoDB request the local stack served, with the capacity units DynamoDB would bill."""

    action: str
    body: dict[str, Any]
    status: int
    write_units: int  # WCU/WRU: per item ceil(size / 1 KB), doubled inside a transaction
    read_units: float  # RCU/RRU: ceil(bytes / 4 KB), halved if eventually consistent, doubled in transactions
    item_bytes: list[int]  # the billed size of each item written or read
    index_write_units: int = 0  # WCU/WRU of the global secondary index updates the write caused


def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's rules (docs: 'Item sizes and formats')."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = Decimal(str(raw)).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1 + (1 if str(raw).startswith("-") else 0)  # 1 byte per 2 digits + 1
    if kind == "B":
        return len(raw) * 3 // 4  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return len(json.dumps(raw))


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size: UTF-8 attribute names plus their values."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _key_of(backend: Any, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _stored(backend: Any, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    try:
        found = backend.get_item(table_name, key)
    except Exception:
        return None
    return found.to_json()["Attributes"] if found else None


def _write_targets(backend: Any, action: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of every item a write request touches."""
    targets: list[tuple[str, dict[str, Any]]] = []
    if action == "PutItem":
        targets.append((body["TableName"], _key_of(backend, body["TableName"], body["Item"])))
    elif action in ("UpdateItem", "DeleteItem"):
        targets.append((body["TableName"], body["Key"]))
    elif action == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            kind, op = next(iter(entry.items()))
            key = _key_of(backend, op["TableName"], op["Item"]) if kind == "Put" else op["Key"]
            targets.append((op["TableName"], key))
    elif action == "BatchWriteItem":
        for table_name, requests in body.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    targets.append((table_name, _key_of(backend, table_name, request["PutRequest"]["Item"])))
                else:
                    targets.append((table_name, request["DeleteRequest"]["Key"]))
    return targets


Image = tuple[list[str], dict[str, Any] | None]  # (key attributes of each GSI of the table, the item)


def write_images(backend: Any, action: str, body: dict[str, Any]) -> list[Image]:
    if action not in WRITE_ACTIONS:
        return []
    try:
        images: list[Image] = []
        for table_name, key in _write_targets(backend, action, body):
            table = backend.get_table(table_name)
            table_keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
            indexes = [
                "|".join(
                    (
                        ",".join(ix.schema_key_attrs),
                        str((ix.projection or {}).get("ProjectionType", "ALL")),
                        ",".join(table_keys),
                    )
                )
                for ix in getattr(table, "global_indexes", [])
            ]
            images.append((indexes, _stored(backend, table_name, key)))
        return images
    except (KeyError, StopIteration):
        return []


def _index_write_units(
    indexes: list[str], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> int:
    """GSI writes a base-table write causes: a put where the item enters an index, a delete where it
    leaves, both where its index key changes, and (projection ALL/INCLUDE only) one update where only
    other attributes change. A KEYS_ONLY entry holds just the index and table keys.

    Each entry of `indexes` is "index keys|projection type|table keys" (comma-separated names)."""
    units = 0
    for index in indexes:
        index_keys, projection, table_keys = ([*index.split("|"), "ALL", ""])[:3]
        keys = index_keys.split(",")
        projected = [*keys, *filter(None, table_keys.split(","))]

        def entry(
            item: dict[str, Any], projected: list[str] = projected, projection: str = projection
        ) -> int:
            if projection == "KEYS_ONLY":
                return item_size({k: v for k, v in item.items() if k in projected})
            return item_size(item)

        was = before is not None and all(k in before for k in keys)
        now = after is not None and all(k in after for k in keys)
        if was and now and before is not None and after is not None:
            if any(before[k] != after[k] for k in keys):
                units += _write_units(entry(before)) + _write_units(entry(after))
            elif projection != "KEYS_ONLY" and before != after:
                units += _write_units(max(entry(before), entry(after)))
        elif now and after is not None:
            units += _write_units(entry(after))
        elif was and before is not None:
            units += _write_units(entry(before))
    return units


def request_record(
    action: str, body: dict[str, Any], result: Any, before: list[Image], after: list[Image]
) -> DynamoRecord:
    status = int(result[0]) if isinstance(result, tuple) else 200
    if action in WRITE_ACTIONS:
        # A write is billed on the larger of the item before and after it (a failed condition still bills).
        sizes = [max(item_size(b[1]), item_size(a[1])) for b, a in zip(before, after, strict=False)]
        if action == "PutItem" and sizes:
            sizes[0] = max(sizes[0], item_size(body.get("Item")))
        factor = 2 if action == "TransactWriteItems" else 1
        index_units = sum(_index_write_units(b[0], b[1], a[1]) for b, a in zip(before, after, strict=False))
        return DynamoRecord(
            action, body, status, factor * sum(_write_units(s) for s in sizes), 0.0, sizes, index_units
        )
    if action not in READ_ACTIONS or not isinstance(result, tuple):
        return DynamoRecord(action, body, status, 0, 0.0, [])
    try:
        answer = json.loads(result[2] or "{}")
    except (TypeError, ValueError):
        answer = {}
    consistent = bool(body.get("ConsistentRead"))
    if action == "GetItem":
        sizes = [item_size(answer.get("Item"))]
        units = _read_units(sizes[0], consistent)
    elif action in ("Query", "Scan"):
        sizes = [item_size(i) for i in answer.get("Items", [])]
        units = _read_units(sum(sizes), consistent)
    elif action == "TransactGetItems":
        sizes = [item_size(r.get("Item")) for r in answer.get("Responses", [])]
        units = sum(2 * _read_units(s, True) for s in sizes)
    else:  # BatchGetItem
        sizes = [item_size(i) for items in answer.get("Responses", {}).values() for i in items]
        units = sum(_read_units(s, consistent) for s in sizes)
    return DynamoRecord(action, body, status, 0, units, sizes)
