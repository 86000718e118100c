"""Local delivery of event sources declared in template.yaml: the table's stream -> the outbox publisher.

The stream consumer gets only what its FilterCriteria passes (history inserts), in stream order; a
failing batch is retried, and once its retries are spent it is described to the on-failure queue while
later records keep flowing.
"""

from __future__ import annotations

import json
from typing import Any

from oms.local.template import Template, stream_sources
from tests.factories import new_sku, order_body, order_id_of

PUBLISHER = "EventsPublisherFunction"


def _bus_events(stack: Any, order_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in stack.event_sources.events_on("oms-local-orders")
        if e["detail"].get("order_id") == order_id and e["detail-type"] != "fulfilment.updated"
    ]


def _history_types(order_id: str) -> list[str]:
    from functions.core import repository

    return [e.type for e in repository.load_aggregate(order_id).events]


def _shipped(oms: Any) -> tuple[str, dict[str, Any]]:
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 1)])
    order, _ = oms.run(body)
    oms.stack.settle()
    return order_id_of(body), order


def test_template_declares_the_publisher_on_the_table_stream():
    (spec,) = [s for s in stream_sources(Template.load()) if s.function == PUBLISHER]
    assert spec.stream == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert spec.report_item_failures
    assert spec.bisect_on_error
    assert spec.maximum_retry_attempts > 0
    assert any('"prefix": "EVT#"' in f for f in spec.filters)


def test_every_history_event_reaches_the_bus_in_order_and_nothing_else_reaches_the_consumer(oms, stack):
    seen: list[dict[str, Any]] = []

    def spy(function: str, event: dict[str, Any]) -> None:
        if function == PUBLISHER:
            seen.extend(event["Records"])

    stack.runtime.before_invoke = spy
    order_id, order = _shipped(oms)
    types = _history_types(order_id)
    published = _bus_events(stack, order_id)
    assert [e["detail-type"] for e in published] == types
    assert [e["detail"]["seq"] for e in published] == list(range(1, len(types) + 1))
    assert {e["detail"]["event_id"] for e in published} == {
        f"{order_id}:{n}" for n in range(1, len(types) + 1)
    }
    assert order["status"] == "SHIPPED"
    assert published[-1]["detail"]["status"] == "SHIPPED"
    # the filter passed history inserts only: no order item updates, no stock rows, no published records
    assert seen
    assert all(r["eventName"] == "INSERT" for r in seen)
    assert all(r["dynamodb"]["Keys"]["sk"]["S"].startswith("EVT#") for r in seen)
    assert all(":table/OrdersTable/stream/" in r["eventSourceARN"] for r in seen)


def test_a_failing_batch_is_retried_then_sent_to_the_on_failure_queue_and_later_records_flow(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    poisoned = order_body([(sku, 1)])
    poisoned_id = order_id_of(poisoned)
    attempts: list[int] = []

    def fail_for_poisoned(function: str, event: dict[str, Any]) -> None:
        if function != PUBLISHER:
            return
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        if f"ORDER#{poisoned_id}" in keys:
            attempts.append(len(keys))
            raise RuntimeError("bus unavailable for this order")

    stack.runtime.before_invoke = fail_for_poisoned
    oms.run(poisoned)
    other_id, _ = _shipped(oms)
    stack.runtime.before_invoke = None
    stack.settle()

    assert _bus_events(stack, poisoned_id) == []
    assert [e["detail"]["seq"] for e in _bus_events(stack, other_id)][:1] == [1]
    assert len(attempts) >= 11  # the first try and MaximumRetryAttempts (10) retries, per record
    sqs = stack.session.client("sqs")
    url = stack.queue_urls["EventsPublisherDLQ"]
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    infos = [b["DDBStreamBatchInfo"] for b in bodies]
    assert infos
    assert all(":table/OrdersTable/stream/" in i["streamArn"] for i in infos)
    assert all(b["requestContext"]["condition"] == "RetryAttemptsExhausted" for b in bodies)
    # bisected down to the poisoned order's records, each given up on alone
    assert sum(i["batchSize"] for i in infos) == len(_history_types(poisoned_id))
