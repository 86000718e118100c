"""The table and its wire format: the one place that names the table and speaks DynamoDB JSON.

Every module of the repository package reads and writes through these helpers, so a single-item write
that loses its condition is one answer (None) rather than a try/except in each caller.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.errors import TransientError
from functions.core.settings import get_settings

_ser = TypeSerializer()
_de = TypeDeserializer()

KEY_NAMES = frozenset({"pk", "sk"})


def table_name() -> str:
    return get_settings().table_name


def av(value: Any) -> Any:
    """One value as DynamoDB JSON."""
    return _ser.serialize(value)


def item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a DynamoDB item (None values left out)."""
    return {k: av(v) for k, v in values.items() if v is not None}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": av(pk), "sk": av(sk)}


def plain(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values (whole numbers as int)."""
    return {k: _unwrap(_de.deserialize(v)) for k, v in raw.items()}


def _unwrap(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; counters are ints."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def without_keys(record: Mapping[str, Any], *also: str) -> dict[str, Any]:
    """A record's attributes without its table keys (and `also`)."""
    return {k: v for k, v in record.items() if k not in KEY_NAMES and k not in also}


def instant(at: datetime) -> str:
    """Fixed-width UTC text, so instants sort as strings (sort keys of every time-ordered index)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard_of(value: str, shards: int) -> int:
    return zlib.crc32(value.encode()) % shards


def set_remove(
    fields: Mapping[str, Any], remove: Sequence[str] = ()
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """An UpdateExpression setting `fields` and removing `remove`, with its placeholder names and values."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    names.update({f"#r{i}": name for i, name in enumerate(remove)})
    values = {f":v{i}": av(value) for i, value in enumerate(fields.values())}
    clauses = []
    if fields:
        clauses.append("SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))))
    if remove:
        clauses.append("REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove))))
    return " ".join(clauses), names, values


# ---------------------------------------------------------------- reads


def get(key: Mapping[str, Any], *, consistent: bool = True, **kwargs: Any) -> dict[str, Any] | None:
    """The item at `key` as plain values, or None."""
    response = aws.dynamodb().get_item(
        TableName=table_name(), Key=dict(key), ConsistentRead=consistent, **kwargs
    )
    return plain(response["Item"]) if "Item" in response else None


def get_record(key: Mapping[str, Any], *also: str) -> dict[str, Any] | None:
    """The attributes of the item at `key` (consistent read, without its keys), or None."""
    found = get(key)
    return without_keys(found, *also) if found is not None else None


def query_all(max_items: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a Query (or the pages up to `max_items`), as plain values."""
    client = aws.dynamodb()
    items: list[dict[str, Any]] = []
    while True:
        response = client.query(TableName=table_name(), **kwargs)
        items.extend(plain(raw) for raw in response.get("Items", []))
        if "LastEvaluatedKey" not in response or (max_items is not None and len(items) >= max_items):
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def query_page(**kwargs: Any) -> tuple[list[dict[str, Any]], bool]:
    """One page of a Query: (items as plain values, whether more remain)."""
    response = aws.dynamodb().query(TableName=table_name(), **kwargs)
    return [plain(raw) for raw in response.get("Items", [])], "LastEvaluatedKey" in response


def batch_get(
    keys: Sequence[Mapping[str, Any]], *, consistent: bool = True, rounds: int | None = None
) -> list[dict[str, Any]]:
    """BatchGetItem of any number of keys (100 a request, unprocessed keys asked again; with `rounds`,
    at most that many times before TransientError)."""
    client = aws.dynamodb()
    table = table_name()
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": list(keys[start : start + 100])}}
        if consistent:
            request[table]["ConsistentRead"] = True
        asked = 0
        while request:
            if rounds is not None and asked == rounds:
                raise TransientError("BatchGetItem kept leaving keys unprocessed")
            asked += 1
            response = client.batch_get_item(RequestItems=request)
            found.extend(plain(raw) for raw in response.get("Responses", {}).get(table, []))
            request = dict(response.get("UnprocessedKeys") or {})
    return found


def items_of_entries(
    entries: Sequence[Mapping[str, Any]], *, still: Callable[[Mapping[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """The table items a KEYS_ONLY index's `entries` point at, in the entries' order (BatchGetItem,
    consistent). An index lags its table: `still` keeps only the items that still belong to the query
    (an item that moved on, or was deleted, is skipped)."""
    keys = {(str(e["pk"]), str(e["sk"])): key(str(e["pk"]), str(e["sk"])) for e in entries}
    found = {(raw["pk"], raw["sk"]): raw for raw in batch_get(list(keys.values()))}
    items = [found[k] for k in keys if k in found]
    return [raw for raw in items if still is None or still(raw)]


def batch_put(items: Sequence[Mapping[str, Any]], rounds: int = 8) -> None:
    """BatchWriteItem puts, 25 a request, unprocessed items sent again (TransientError if they stay)."""
    client = aws.dynamodb()
    table = table_name()
    requests = [{"PutRequest": {"Item": dict(raw)}} for raw in items]
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[start : start + 25]}
        for _ in range(rounds):
            unprocessed = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            pending = dict(unprocessed)
        else:
            raise TransientError("DynamoDB kept items of a BatchWriteItem unprocessed")


# ---------------------------------------------------------------- single-item writes


def write(action: Literal["put_item", "update_item", "delete_item"], **kwargs: Any) -> dict[str, Any] | None:
    """One conditional write. None when its condition failed; otherwise the old or new attributes the
    request asked for (ReturnValues), as plain values ({} when none were asked for)."""
    client = aws.dynamodb()
    try:
        response = getattr(client, action)(TableName=table_name(), **kwargs)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise translate(err) from err
    return plain(response.get("Attributes", {}))


def put(values: Mapping[str, Any], **kwargs: Any) -> bool:
    """Put a record (plain values); False when `ConditionExpression` failed."""
    return write("put_item", Item=item(values), **kwargs) is not None


# ---------------------------------------------------------------- errors

_TRANSIENT = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionConflictException",
    "TransactionInProgressException",
}


def cancellation_codes(err: ClientError) -> list[str]:
    """Per transaction item, why a TransactWriteItems was cancelled ("None" for the items that were fine)."""
    if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons = err.response.get("CancellationReasons", [])  # type: ignore[typeddict-item]
    return [str(r.get("Code", "None")) for r in reasons]


def translate(err: ClientError) -> Exception:
    """Throttling and transaction conflicts are worth a retry (TransientError); the rest stays as is."""
    code = err.response.get("Error", {}).get("Code", "")
    if code in _TRANSIENT or "TransactionConflict" in cancellation_codes(err):
        return TransientError(f"DynamoDB {code}")
    return err
