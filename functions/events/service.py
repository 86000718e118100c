"""The outbox publisher: history events from the table's stream onto the event bus.

A batch of stream records (EVT# items, in stream order) becomes bus entries (catalogue.bus_entries),
put 10 at a time. If an entry fails, the record it came from and every later one are reported failed,
so Lambda retries from there and an order's events reach the bus in `seq` order (at least once: a
retried batch may publish an event again, with the same `event_id`). Each published event is recorded
(repository.record_published, keyed by its type) for GET /events; one order's records are found from its
history (the entries it gives, by key: `published`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from functions.core import aws, repository
from functions.core.errors import OrderNotFoundError, TransientError
from functions.core.models.orders import HistoryEvent, Order
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
    events = [repository.history_event_from_image(item.new_image) for item in items]
    failed_from = _put([(order_id, event) for order_id, event in events])
    if failed_from is not None:
        return [i.sequence_number for i in items[failed_from:]]
    logger.info("published", extra={"records": len(items)})
    return []


def replay(order_id: str, from_seq: int = 1) -> int:
    """Publish an order's history events again, from the table (the source of truth): after a batch went
    to the publisher's DLQ, or for a consumer that lost its copy. Same event ids, so consumers dedupe.
    Returns how many history events were published; raises TransientError if the bus refused one."""
    history = [e for e in repository.load_aggregate(order_id).events if e.seq >= from_seq]
    failed_from = _put([(order_id, event) for event in history])
    if failed_from is not None:
        raise TransientError(f"order {order_id}: the bus refused event seq {history[failed_from].seq}")
    return len(history)


def published(order_id: str) -> list[dict[str, Any]]:
    """What was published for one order, in history order: the records of the bus entries its history
    events give (an order not stored: none)."""
    try:
        aggregate = repository.load_aggregate(order_id)
    except OrderNotFoundError:
        return []
    order = _ref_of(aggregate.order)
    carriers = {s.shipment_id: s.carrier for s in aggregate.shipments}
    keys = [
        repository.published_key(order_id, entry.index, entry.detail_type, entry.detail)
        for event in aggregate.events
        for entry in _entries(0, order, _with_carriers(order_id, event, carriers))
    ]
    return repository.published_records(keys, order_id)


def _put(events: Sequence[tuple[str, HistoryEvent]]) -> int | None:
    """Put the bus entries of `events`, in order; the index of the first event not published, or None."""
    orders: dict[str, OrderRef] = {}
    entries: list[_Entry] = []
    for position, (order_id, event) in enumerate(events):
        order = orders.get(order_id) or _order_ref(order_id)
        orders[order_id] = order
        entries += _entries(position, order, _with_carriers(order_id, event))
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
        published: list[repository.Published] = []
        failed: int | None = None
        for entry, result in zip(chunk, results, strict=False):
            event_id = result.get("EventId")
            if event_id is None:
                logger.warning(
                    "event not published",
                    extra={"event_id": entry.detail.get("event_id"), "error": result.get("ErrorCode")},
                )
                failed = entry.record
                break
            published.append(
                repository.Published(
                    entry.order_id, entry.seq, entry.index, entry.detail_type, entry.detail, event_id
                )
            )
        if failed is None and len(results) < len(chunk):  # no result for some entries: retry them
            failed = chunk[len(results)].record
        repository.record_published(published)
        if failed is not None:
            return failed
    return None


def _entries(position: int, order: OrderRef, event: HistoryEvent) -> list[_Entry]:
    return [
        _Entry(position, order.order_id, event.seq, index, detail_type, detail)
        for index, (detail_type, detail) in enumerate(bus_entries(order, event))
    ]


def _with_carriers(
    order_id: str, event: HistoryEvent, carriers: dict[str, str] | None = None
) -> HistoryEvent:
    """order.shipped names its shipments by id and tracking number; the marketplace form needs the
    carrier too: read it from the order's shipment items (only when the event does not carry it)."""
    shipments = event.detail.get("shipments")
    if event.type != "order.shipped" or not isinstance(shipments, list):
        return event
    if all(isinstance(s, dict) and s.get("carrier") for s in shipments):
        return event
    if carriers is None:
        carriers = {s.shipment_id: s.carrier for s in repository.load_aggregate(order_id).shipments}
    enriched = [
        {**s, "carrier": s.get("carrier") or carriers.get(str(s.get("id", s.get("shipment_id"))))}
        if isinstance(s, dict)
        else s
        for s in shipments
    ]
    return event.model_copy(update={"detail": {**event.detail, "shipments": enriched}})


@lru_cache(maxsize=4096)  # an order's platform, platform order id and buyer never change: read once
def _order_ref(order_id: str) -> OrderRef:
    return _ref_of(repository.get_order(order_id))


def _ref_of(order: Order) -> OrderRef:
    return OrderRef(
        order_id=order.order_id,
        platform=order.platform,
        platform_order_id=order.platform_order_id,
        buyer_id=order.buyer.id,
        channel=order.channel,
    )
