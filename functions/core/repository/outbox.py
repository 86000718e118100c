"""What left the system: integration events the outbox publisher put on the bus, and webhook deliveries.

    EVENTS#<order id> / PUB#<seq>#<n>              what the publisher put on the bus for history event
                                                   <seq> (GSI1: EVENTTYPE#<type>#<shard> /
                                                   <occurred_at>#<event id>, the latest events of a type)
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


def record_published(events: Sequence[Published]) -> None:
    """Remember published events (idempotent: a republished event overwrites its record)."""
    now = clock.now().isoformat()
    shards = get_settings().status_index_shards
    batch_put(
        [
            item(
                {
                    "pk": f"EVENTS#{e.order_id}",
                    "sk": f"PUB#{e.seq:08d}#{e.index:02d}",
                    "gsi1pk": f"EVENTTYPE#{e.detail_type}#{shard_of(e.order_id, shards)}",
                    "gsi1sk": f"{e.detail.get('occurred_at', '')}#{e.detail.get('event_id', '')}",
                    "detail_type": e.detail_type,
                    "bus_event_id": e.bus_event_id,
                    "published_at": now,
                    "detail": dict(e.detail),
                }
            )
            for e in events
        ]
    )


def published_events(order_id: str) -> list[dict[str, Any]]:
    """The events published for one order, in history order."""
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :pub)",
        ExpressionAttributeValues={":pk": av(f"EVENTS#{order_id}"), ":pub": av("PUB#")},
    )
    return [_published(raw) for raw in items]


def published_events_of_type(detail_type: str, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` published events of one type, newest first (every shard of the index)."""
    found: list[dict[str, Any]] = []  # GSI1 is KEYS_ONLY: the newest entries, then their items by key
    for shard in range(get_settings().status_index_shards):
        found += query_all(
            max_items=limit,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": av(f"EVENTTYPE#{detail_type}#{shard}")},
            ScanIndexForward=False,
            Limit=limit,
        )
    found.sort(key=lambda raw: str(raw.get("gsi1sk", "")), reverse=True)
    return [_published(raw) for raw in items_of_entries(found[:limit])]


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
