"""Our fulfilment updates -> the platform's native shipping call (Shopify fulfillment, TOP 发货 ...).

Fed by a rule on the OMS bus (fulfilment.updated of connector platforms). Each attempt is recorded as a
webhook delivery of the order's event (GET /webhooks/deliveries), and once delivered never repeated;
a failed call raises, so the rule's retry policy sends the event again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.connectors import fulfilled, outbound, registry
from functions.connectors.connectors import CONNECTORS
from functions.connectors.contract import Fulfilment, LineRef
from functions.core import clock, repository
from functions.core.errors import TransientError
from functions.core.observability import bind_order, logger


def ship_back(detail: dict[str, Any]) -> str:
    platform, order_id, event_id = str(detail["platform"]), str(detail["order_id"]), str(detail["event_id"])
    connector = CONNECTORS.get(platform)
    if connector is None:
        return "not_a_channel"
    bind_order(order_id, event_id=event_id)
    refs = registry.order_refs(order_id)
    if refs is None:
        return "not_a_channel_order"  # posted to POST /orders by a platform that signs our way
    previous = repository.webhook_delivery(order_id, event_id, platform) or {}
    if previous.get("status") == "delivered":
        return "duplicate"
    shop = registry.get_shop(platform, str(refs["shop"])) or {}
    credentials = registry.credentials(platform, str(refs["shop"]))
    now = clock.now()
    fulfilment = Fulfilment(
        shop=str(refs["shop"]),
        native_id=str(refs["native_id"]),
        shipment_id=str(detail["shipment_id"]),
        status=str(detail["shipment_status"]),
        carrier=detail.get("carrier"),
        tracking_number=detail.get("tracking_number"),
        occurred_at=datetime.fromisoformat(str(detail["occurred_at"])),
        lines=_shipped_lines(order_id, str(detail["shipment_id"]), refs),
    )
    if credentials is None or not shop.get("api_base_url"):
        record = {"status": "no_endpoint", "event_type": "fulfilment.updated", "attempts": 0}
        repository.record_webhook_delivery(order_id, event_id, platform, record)
        return "no_endpoint"
    call = connector.fulfilment_call(fulfilment, credentials, now)
    if call is None:
        return "not_needed"
    answer = outbound.send(str(shop["api_base_url"]), call)
    attempts = int(previous.get("attempts") or 0) + 1
    record = {
        "event_type": "fulfilment.updated",
        "native_call": call.name,
        "url": outbound.url_of(str(shop["api_base_url"]), call).split("?", 1)[0],
        "attempts": attempts,
        "response_status": answer.status,
        "last_attempt_at": now.isoformat(),
        "shipment_id": fulfilment.shipment_id,
    }
    if answer.ok:
        record.update(status="delivered", delivered_at=now.isoformat())
        repository.record_webhook_delivery(order_id, event_id, platform, record)
        logger.info("fulfilment shipped back", extra={"platform": platform, "call": call.name})
        return "delivered"
    record.update(status="retrying", last_error=answer.error)
    repository.record_webhook_delivery(order_id, event_id, platform, record)
    logger.warning("fulfilment not shipped back", extra={"platform": platform, "status": answer.status})
    raise TransientError(f"{platform} {call.name} failed: {answer.error}")


def _shipped_lines(order_id: str, shipment_id: str, refs: dict[str, Any]) -> list[LineRef]:
    """The platform's line items this shipment completes, by the stored lines' origins (a bundle line
    once all its components left); every line item when the order does not know the shipment."""
    every = [LineRef(str(e["sku"]), str(e["ref"]), int(e["quantity"])) for e in refs.get("lines", [])]
    aggregate = repository.load_aggregate(order_id)
    done = fulfilled.fulfilled_refs(aggregate.order.lines, aggregate.shipments, shipment_id, every)
    return every if done is None else done
