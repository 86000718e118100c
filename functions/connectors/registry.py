"""The connectors' records in the single table, and shop secrets in Secrets Manager.

Keys (the table's pk/sk, prefixes of this module only):
    CHANNELS              / <platform>#<shop>        a shop: base URL, pull flag, native id (no secret)
    CHANNELALIAS          / <platform>#<native id>   a platform's own shop id -> our shop key
    CHSKUMAP#<p>#<shop>   / <item id>#<sku id>       the shop's SKU map (商品关联)
    CHCURSOR              / <platform>#<shop>        the pull cursor (modified time)
    CHPARKED#<p>#<shop>   / <native order id>        an order held for UNMAPPED_SKU, until ops map it
    CHORDER#<order id>    / REFS                     how an order names the platform (shop, native id, lines)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.connectors.contract import Credentials, LineRef
from functions.connectors.settings import get_channel_settings
from functions.core import aws
from functions.core.settings import get_settings

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items() if k not in ("pk", "sk")}


def _table() -> str:
    return get_settings().table_name


def _get(pk: str, sk: str) -> dict[str, Any] | None:
    answer = aws.dynamodb().get_item(
        TableName=_table(), Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    item = answer.get("Item")
    return _plain(item) if item else None


def _query(pk: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ConsistentRead": True,
    }
    while True:
        page = aws.dynamodb().query(**kwargs)
        found += [_plain(item) for item in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---------------------------------------------------------------- shops


def put_shop(platform: str, shop: str, document: Mapping[str, Any]) -> None:
    previous = get_shop(platform, shop)
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": _table(),
                "Item": _item({"pk": "CHANNELS", "sk": f"{platform}#{shop}", **document}),
            }
        }
    ]
    native = document.get("native_shop_id")
    old_native = (previous or {}).get("native_shop_id")
    if old_native and old_native != native:
        items.append(
            {
                "Delete": {
                    "TableName": _table(),
                    "Key": _item({"pk": "CHANNELALIAS", "sk": f"{platform}#{old_native}"}),
                }
            }
        )
    if native:
        items.append(
            {
                "Put": {
                    "TableName": _table(),
                    "Item": _item({"pk": "CHANNELALIAS", "sk": f"{platform}#{native}", "shop": shop}),
                    # a platform's shop id names one of our shops only
                    "ConditionExpression": "attribute_not_exists(pk) OR #shop = :shop",
                    "ExpressionAttributeNames": {"#shop": "shop"},
                    "ExpressionAttributeValues": {":shop": {"S": shop}},
                }
            }
        )
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)  # type: ignore[arg-type]
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            owner = shop_by_native_id(platform, str(native))
            if owner not in (None, shop):
                raise NativeShopTaken(f"{platform} shop id {native} is registered as shop {owner}") from err
        raise


class NativeShopTaken(Exception):
    """Another of our shops already answers to this platform shop id."""


def get_shop(platform: str, shop: str) -> dict[str, Any] | None:
    return _get("CHANNELS", f"{platform}#{shop}")


def shops() -> list[dict[str, Any]]:
    return _query("CHANNELS")


def shop_by_native_id(platform: str, native_shop_id: str) -> str | None:
    alias = _get("CHANNELALIAS", f"{platform}#{native_shop_id}")
    return str(alias["shop"]) if alias else None


# ---------------------------------------------------------------- secrets


def _secret_name(platform: str, shop: str) -> str:
    return f"{get_channel_settings().channel_secret_prefix}{platform}/{shop}"


def put_credentials(platform: str, shop: str, credentials: Credentials) -> str:
    """Store the shop's credentials (create or new version); returns the secret's name, never its value."""
    name = _secret_name(platform, shop)
    value = json.dumps(
        {
            "secret": credentials.secret,
            "access_token": credentials.access_token,
            "app_key": credentials.app_key,
        }
    )
    client = aws.secretsmanager()
    try:
        client.put_secret_value(SecretId=name, SecretString=value)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        client.create_secret(
            Name=name, SecretString=value, Description=f"{platform} shop {shop} (OMS connector)"
        )
    forget_credentials()
    return name


_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[float, Credentials]] = {}


def credentials(platform: str, shop: str) -> Credentials | None:
    key = (platform, shop)
    with _lock:
        cached = _cache.get(key)
        if cached and time.monotonic() < cached[0]:
            return cached[1]
    try:
        answer = aws.secretsmanager().get_secret_value(SecretId=_secret_name(platform, shop))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    document = json.loads(answer["SecretString"])
    found = Credentials(
        secret=str(document["secret"]),
        access_token=str(document.get("access_token") or ""),
        app_key=str(document.get("app_key") or ""),
    )
    with _lock:
        _cache[key] = (time.monotonic() + get_channel_settings().credentials_cache_seconds, found)
    return found


def forget_credentials() -> None:
    with _lock:
        _cache.clear()


# ---------------------------------------------------------------- SKU map


def put_sku_map(platform: str, shop: str, entries: Iterable[Mapping[str, str]], updated_at: datetime) -> int:
    pk = f"CHSKUMAP#{platform}#{shop}"
    requests = [
        {
            "PutRequest": {
                "Item": _item(
                    {
                        "pk": pk,
                        "sk": f"{entry['item_id']}#{entry.get('sku_id', '')}",
                        "item_id": entry["item_id"],
                        "sku_id": entry.get("sku_id", ""),
                        "sku": entry["sku"],
                        "updated_at": updated_at.isoformat(),
                    }
                )
            }
        }
        for entry in entries
    ]
    for start in range(0, len(requests), 25):
        batch: dict[str, Any] = {_table(): requests[start : start + 25]}
        for _ in range(8):
            unprocessed = aws.dynamodb().batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
            if not unprocessed:
                break
            batch = unprocessed
            time.sleep(0.05)
        else:
            raise RuntimeError("the SKU map could not be written completely; retry")
    return len(requests)


def sku_map(platform: str, shop: str) -> dict[tuple[str, str], str]:
    return {(e["item_id"], e["sku_id"]): e["sku"] for e in _query(f"CHSKUMAP#{platform}#{shop}")}


# ---------------------------------------------------------------- pull cursor


def cursor(platform: str, shop: str) -> datetime | None:
    found = _get("CHCURSOR", f"{platform}#{shop}")
    return datetime.fromisoformat(found["modified_until"]) if found else None


def set_cursor(platform: str, shop: str, until: datetime, pulled: int) -> None:
    aws.dynamodb().put_item(
        TableName=_table(),
        Item=_item(
            {
                "pk": "CHCURSOR",
                "sk": f"{platform}#{shop}",
                "modified_until": until.isoformat(),
                "last_pulled": pulled,
            }
        ),
    )


# ---------------------------------------------------------------- held for UNMAPPED_SKU


def park(platform: str, shop: str, native_id: str, document: Mapping[str, Any]) -> None:
    aws.dynamodb().put_item(
        TableName=_table(),
        Item=_item(
            {"pk": f"CHPARKED#{platform}#{shop}", "sk": native_id, **document, "native_id": native_id}
        ),
    )


def parked(platform: str, shop: str) -> list[dict[str, Any]]:
    return _query(f"CHPARKED#{platform}#{shop}")


def unpark(platform: str, shop: str, native_id: str) -> None:
    aws.dynamodb().delete_item(
        TableName=_table(), Key={"pk": {"S": f"CHPARKED#{platform}#{shop}"}, "sk": {"S": native_id}}
    )


# ---------------------------------------------------------------- per-order references


def put_order_refs(
    order_id: str, platform: str, shop: str, native_id: str, lines: list[LineRef], modified_at: datetime
) -> None:
    aws.dynamodb().put_item(
        TableName=_table(),
        Item=_item(
            {
                "pk": f"CHORDER#{order_id}",
                "sk": "REFS",
                "platform": platform,
                "shop": shop,
                "native_id": native_id,
                "lines": [{"sku": line.sku, "ref": line.ref, "quantity": line.quantity} for line in lines],
                "modified_at": modified_at.isoformat(),
            }
        ),
    )


def order_refs(order_id: str) -> dict[str, Any] | None:
    return _get(f"CHORDER#{order_id}", "REFS")


def set_modified(order_id: str, modified_at: datetime) -> None:
    aws.dynamodb().update_item(
        TableName=_table(),
        Key={"pk": {"S": f"CHORDER#{order_id}"}, "sk": {"S": "REFS"}},
        UpdateExpression="SET modified_at = :m",
        ExpressionAttributeValues={":m": {"S": modified_at.isoformat()}},
    )
