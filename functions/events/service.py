"""The outbox publisher: history events from the table's stream onto the event bus.

A batch of stream records (EVT# items, in stream order) becomes bus entries (catalogue.bus_entries),
put 10 at a time. If an entry fails, the record it came from and every later one are reported failed,
so Lambda retries from there and an order's events reach the bus in `seq` order (at least once: a
retried batch may publish an event again, with the same `event_id`). Each published event is recorded
(repository.record_published) for GET /events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from functions.core import aws, repository
from functions.core.models import HistoryEvent
from functions.core.observability import logger
from functions.core.settings import get_events_settings
from functions.events.catalogue import SOURCE, OrderRef, bus_entries

_PUT_EVENTS_MAX = 10


@dataclass(frozen=True)
class StreamItem:
    sequence_number: str
    new_image: dict[str, Any]


@dataclass(frozen=True)
class _Entry:
    record: int  # index of the stream record it comes from
    order_id: str
    seq: int
    index: int  # its position among the record's entries
    detail_type: str
    detail: dict[str, Any]


def publish(items: Sequence[StreamItem]) -> list[str]:
    """Publish every record's events; the sequence numbers to retry (from the first failure on)."""
    orders: dict[str, OrderRef] = {}
    entries: list[_Entry] = []
    for position, item in enumerate(items):
        order_id, event = repository.history_event_from_image(item.new_image)
        order = orders.get(order_id) or _order_ref(order_id)
        orders[order_id] = order
        entries += _entries(position, order, event)
    bus = get_events_settings().event_bus_name
    for start in range(0, len(entries), _PUT_EVENTS_MAX):
        chunk = entries[start : start + _PUT_EVENTS_MAX]
        response = aws.events().put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": SOURCE,
                    "DetailType": entry.detail_type,
                    "Detail": json.dumps(entry.detail, separators=(",", ":")),
                    "Resources": [],
                }
                for entry in chunk
            ]
        )
        results = response.get("Entries", [])
        for entry, result in zip(chunk, results, strict=False):
            event_id = result.get("EventId")
            if event_id is None:
                logger.warning(
                    "event not published",
                    extra={"event_id": entry.detail.get("event_id"), "error": result.get("ErrorCode")},
                )
                return [i.sequence_number for i in items[entry.record :]]
            repository.record_published(
                entry.order_id, entry.seq, entry.index, entry.detail_type, entry.detail, event_id
            )
        if len(results) < len(chunk):  # an answer without a result per entry: retry what has none
            return [i.sequence_number for i in items[chunk[len(results)].record :]]
    logger.info("published", extra={"records": len(items), "events": len(entries)})
    return []


def _entries(position: int, order: OrderRef, event: HistoryEvent) -> list[_Entry]:
    return [
        _Entry(position, order.order_id, event.seq, index, detail_type, detail)
        for index, (detail_type, detail) in enumerate(bus_entries(order, event))
    ]


def _order_ref(order_id: str) -> OrderRef:
    order = repository.get_order(order_id)
    return OrderRef(
        order_id=order.order_id,
        platform=order.platform,
        platform_order_id=order.platform_order_id,
        buyer_id=order.buyer.id,
    )
