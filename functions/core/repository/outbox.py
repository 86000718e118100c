"""What left the system: integration events the outbox publisher put on the bus, and webhook deliveries.

    EVENTTYPE#<type>#<shard> /                     what the publisher put on the bus: the n-th entry of
      PUB#<occurred_at>#<event id>#<n>             a history event, keyed by its type (the latest of a
                                                   type is one Query a shard; one order's are found by
                                                   key from its history: docs/adr/0007)
    EVENTS#<order id> / PUB#<seq>#<n>              the same, as recorded before 0007 (GSI1 by type):
                                                   still read, never written
    WEBHOOKS / <platform>                          a platform's webhook endpoint (few platforms)
    DELIVERIES#<order id> / <event id>#<platform>  one event's delivery to a platform: status, attempts

Kept outside the order's partition, so loading an order never reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions.core import clock
from functions.core.models.orders import HistoryEvent
from functions.core.repository._dynamo import (
    av,
    batch_get,
    batch_put,
    get_record,
    item,
    items_of_entries,
    key,
    plain,
    put,
    query_all,
    shard_of,
    without_keys,
)
from functions.core.settings import get_settings


def history_event_from_image(image: Mapping[str, Any]) -> tuple[str, HistoryEvent]:
    """(order id, history event) of an EVT# item as a DynamoDB stream record's NewImage carries it."""
    raw = plain(dict(image))
    pk = str(raw.get("pk", ""))
    if not pk.startswith("ORDER#") or not str(raw.get("sk", "")).startswith("EVT#"):
        raise ValueError(f"not a history event item: {pk}/{raw.get('sk')}")
    return pk.removeprefix("ORDER#"), HistoryEvent.model_validate(raw)


@dataclass(frozen=True)
class Published:
    """One event the publisher put on the bus (the n-th of history event `seq` of the order)."""

    order_id: str
    seq: int
    index: int
    detail_type: str
    detail: Mapping[str, Any]
    bus_event_id: str


def published_key(order_id: str, index: int, detail_type: str, detail: Mapping[str, Any]) -> tuple[str, str]:
    """(pk, sk) of the record of one bus entry (the `index`-th of its history event): by type, sharded
    by order id, sorted by when it happened."""
    shard = shard_of(order_id, get_settings().status_index_shards)
    moment = f"{detail.get('occurred_at', '')}#{detail.get('event_id', '')}#{index:02d}"
    return f"EVENTTYPE#{detail_type}#{shard}", f"PUB#{moment}"


def record_published(events: Sequence[Published]) -> None:
    """Remember published events (idempotent: a republished event overwrites its record). No index entry:
    the key is the type's listing, and one order's records are found by key (`published_records`)."""
    now = clock.now().isoformat()
    keys = [published_key(e.order_id, e.index, e.detail_type, e.detail) for e in events]
    batch_put(
        [
            item(
                {
                    "pk": pk,
                    "sk": sk,
                    "detail_type": e.detail_type,
                    "bus_event_id": e.bus_event_id,
                    "published_at": now,
                    "detail": dict(e.detail),
                }
            )
            for e, (pk, sk) in zip(events, keys, strict=True)
        ]
    )


def published_records(keys: Sequence[tuple[str, str]], order_id: str) -> list[dict[str, Any]]:
    """The records of one order's bus entries (`keys` from `published_key`, in history order; an entry
    not published has none), after those recorded before 0007 under the order (EVENTS#<order id>)."""
    before = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :pub)",
        ExpressionAttributeValues={":pk": av(f"EVENTS#{order_id}"), ":pub": av("PUB#")},
    )
    asked = [key(pk, sk) for pk, sk in dict.fromkeys(keys)]
    found = {(raw["pk"], raw["sk"]): raw for raw in batch_get(asked, consistent=False)}
    now = [found[k] for k in keys if k in found]
    seen = {(raw["detail_type"], raw.get("detail", {}).get("event_id")) for raw in now}
    older = [r for r in before if (r["detail_type"], r.get("detail", {}).get("event_id")) not in seen]
    return [_published(raw) for raw in [*older, *now]]


def published_events_of_type(detail_type: str, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` published events of one type, newest first (every shard), with those recorded
    before 0007 (GSI1 entries of EVENTS#<order id> items)."""
    found: list[dict[str, Any]] = []
    older: list[dict[str, Any]] = []  # GSI1 is KEYS_ONLY: the newest entries, then their items by key
    for shard in range(get_settings().status_index_shards):
        partition = av(f"EVENTTYPE#{detail_type}#{shard}")
        found += query_all(
            max_items=limit,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :pub)",
            ExpressionAttributeValues={":pk": partition, ":pub": av("PUB#")},
            ScanIndexForward=False,
            Limit=limit,
        )
        older += query_all(
            max_items=limit,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": partition},
            ScanIndexForward=False,
            Limit=limit,
        )
    older.sort(key=lambda raw: str(raw.get("gsi1sk", "")), reverse=True)
    found += items_of_entries(older[:limit])
    found.sort(key=_occurred, reverse=True)
    return [_published(raw) for raw in found[:limit]]


def _occurred(raw: Mapping[str, Any]) -> tuple[str, str]:
    detail = raw.get("detail", {})
    return str(detail.get("occurred_at", "")), str(detail.get("event_id", ""))


def _published(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "detail_type": raw["detail_type"],
        "bus_event_id": raw.get("bus_event_id"),
        "published_at": raw.get("published_at"),
        "detail": raw.get("detail", {}),
    }


# ---------------------------------------------------------------- outbound webhooks (functions/webhooks)


def put_webhook_endpoint(platform: str, document: Mapping[str, Any]) -> None:
    put({"pk": "WEBHOOKS", "sk": platform, "platform": platform, **document})


def webhook_endpoint(platform: str) -> dict[str, Any] | None:
    return get_record(key("WEBHOOKS", platform))


def webhook_endpoints() -> list[dict[str, Any]]:
    items = query_all(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": av("WEBHOOKS")})
    return [without_keys(raw) for raw in items]


def webhook_delivery(order_id: str, event_id: str, platform: str) -> dict[str, Any] | None:
    return get_record(key(f"DELIVERIES#{order_id}", f"{event_id}#{platform}"))


def record_webhook_delivery(order_id: str, event_id: str, platform: str, document: Mapping[str, Any]) -> None:
    """Record an attempt's outcome. Once `delivered`, never overwritten by a late failure report."""
    put(
        {
            "pk": f"DELIVERIES#{order_id}",
            "sk": f"{event_id}#{platform}",
            "order_id": order_id,
            "event_id": event_id,
            "platform": platform,
            **document,
        },
        ConditionExpression="attribute_not_exists(pk) OR #s <> :delivered",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":delivered": av("delivered")},
    )


def webhook_deliveries(order_id: str) -> list[dict[str, Any]]:
    items = query_all(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": av(f"DELIVERIES#{order_id}")}
    )
    return [without_keys(raw) for raw in items]
