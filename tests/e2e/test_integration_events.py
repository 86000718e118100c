"""Issue 6, integration events: what reaches the bus matches its documented schema, carries no personal
data, and can be read back through GET /events."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs  # ships with schemathesis (a dev dependency)
import pytest

from functions.core import repository
from functions.events.catalogue import DATA_MODELS, FULFILMENT_UPDATED, REQUIRED
from tests.factories import new_sku, order_body, order_id_of
from tests.review_helpers import intercept, post_and_hold, review

BUS = "oms-local-orders"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def _published(stack: Any, order_id: str) -> list[dict[str, Any]]:
    stack.settle()
    return [e for e in stack.event_sources.events_on(BUS) if e["detail"]["order_id"] == order_id]


def _validator(detail_type: str) -> Any:
    name = detail_type if (DOCS / f"{detail_type}.schema.json").exists() else "generic"
    return jsonschema_rs.validator_for(json.loads((DOCS / f"{name}.schema.json").read_text()))


def _assert_valid(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert event["source"] == "oms.orders"
        errors = [e.message for e in _validator(event["detail-type"]).iter_errors(event["detail"])]
        assert errors == [], (event["detail-type"], errors)


def _annotate(order_id: str, event_type: str, detail: dict[str, Any]) -> None:
    """Record a history event as the shipping / after-sales stages will (they publish nothing themselves)."""
    order = repository.get_order(order_id)
    assert repository.annotate(order, event_type=event_type, actor="test", set_fields={}, detail=detail)


@pytest.fixture
def shipped(oms: Any) -> str:
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 2)])
    order, _ = oms.run(body)
    assert order["status"] == "SHIPPED"
    return order_id_of(body)


def test_a_shipped_order_publishes_its_lifecycle_and_a_fulfilment_update_all_matching_their_schemas(
    oms, stack, shipped
):
    events = _published(stack, shipped)
    types = [e["detail-type"] for e in events]
    assert types == [
        "order.received",
        "review.approve",
        "stock.reserved",
        "order.shipped",
        FULFILMENT_UPDATED,
    ]
    _assert_valid(events)
    order = oms.order(shipped)
    update = events[-1]["detail"]
    assert update["platform_order_id"] == order["platform_order_id"]
    assert update["shipment_status"] == "shipped"
    assert update["tracking_number"] == order["shipments"][0]["tracking_number"]
    assert update["shipment_id"] == order["shipments"][0]["shipment_id"]
    assert update["carrier"] == order["shipments"][0]["carrier"]
    assert events[3]["detail"]["data"]["shipments"][0]["carrier"] == order["shipments"][0]["carrier"]
    reserved = events[2]["detail"]["data"]["reservations"]
    assert [(r["quantity"], r["warehouse"]) for r in reserved] == [(2, "WH-MAIN")]


def test_events_carry_ids_but_no_personal_data(stack, shipped):
    text = json.dumps([e["detail"] for e in _published(stack, shipped)])
    assert "buyer-1" in text  # the buyer's id is fine
    for personal in ("Li Lei", "138 0000 0000", "Nanjing", "200000"):
        assert personal not in text


def test_held_approved_and_cancelled_orders_publish_their_events(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    held = post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")]))
    assert review(oms, held["order_id"], "approve", comment="Li Lei called, ok").status == 200
    stack.wait_for_execution(held["execution_arn"])
    events = _published(stack, held["order_id"])
    types = [e["detail-type"] for e in events]
    assert types[:3] == ["order.received", "review.hold", "review.manual_approve"]
    assert events[1]["detail"]["status"] == "ON_HOLD"
    assert events[1]["detail"]["data"]["reasons"] == ["HIGH_VALUE"]
    assert "Li Lei" not in json.dumps(events[2]["detail"])  # the reviewer's comment is free text: not sent
    _assert_valid(events)

    cancelled = post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")]))
    assert intercept(oms, cancelled["order_id"], "cancel").status in (200, 202)
    stack.wait_for_execution(cancelled["execution_arn"])
    events = _published(stack, cancelled["order_id"])
    assert events[-1]["detail"]["status"] == "CANCELLED"
    _assert_valid(events)


CONTRACT_EVENTS = [  # the detail other stages record (COMMON.md contracts), published through the outbox
    (
        "shipment.in_transit",
        {
            "shipment_id": "S1",
            "carrier": "SF",
            "tracking_number": "SF1",
            "status": "in_transit",
            "carrier_event_id": "c-1",
            "occurred_at": "2026-01-01T08:00:00+00:00",
        },
    ),
    (
        "exception.opened",
        {"exception_id": "X1", "kind": "damaged", "shipment_id": "S1", "note": "Li Lei's box"},
    ),
    (
        "order.refunded",
        {
            "case_id": "C1",
            "refund_id": "R1",
            "amount": "12.30",
            "currency": "CNY",
            "lines": [{"sku": "A", "quantity": 1, "amount": "12.30"}],
            "buyer_phone": "13800000000",
        },
    ),
    ("aftersales.requested", {"case_id": "C1", "reason": "Li Lei says broken", "phone": "13800000000"}),
]


def test_events_other_stages_record_are_published_to_their_schemas_without_extra_fields(oms, stack, shipped):
    for event_type, detail in CONTRACT_EVENTS:
        _annotate(shipped, event_type, detail)
    events = {e["detail-type"]: e["detail"] for e in _published(stack, shipped)}
    _assert_valid([{"source": "oms.orders", "detail-type": t, "detail": d} for t, d in events.items()])
    assert events["order.refunded"]["data"]["amount"] == "12.30"
    assert events["exception.opened"]["data"] == {
        "exception_id": "X1",
        "kind": "damaged",
        "shipment_id": "S1",
    }
    assert events["aftersales.requested"]["data"] == {"case_id": "C1"}  # uncatalogued: ids only
    assert events[FULFILMENT_UPDATED]["shipment_status"] == "in_transit"  # the latest update
    assert "13800000000" not in json.dumps(events)
    assert "Li Lei" not in json.dumps(events)


def test_get_events_by_order_and_by_type(oms, stack, shipped):
    stack.settle()
    response = oms.as_role("ops").call("GET", f"/events?order_id={shipped}")
    assert response.status == 200, response.body
    listed = response.json()["events"]
    assert [e["detail"]["seq"] for e in listed if e["detail_type"] != FULFILMENT_UPDATED] == [1, 2, 3, 4]
    bus_ids = {e["id"] for e in _published(stack, shipped)}
    assert {e["bus_event_id"] for e in listed} == bus_ids

    only = oms.call("GET", f"/events?order_id={shipped}&type=order.shipped").json()["events"]
    assert [e["detail_type"] for e in only] == ["order.shipped"]
    by_type = oms.call("GET", "/events?type=order.shipped&limit=500").json()["events"]
    assert shipped in [e["detail"]["order_id"] for e in by_type]
    occurred = [e["detail"]["occurred_at"] for e in by_type]
    assert occurred == sorted(occurred, reverse=True)

    missing = oms.call("GET", "/events")
    assert missing.status == 400
    assert oms.as_role("viewer").call("GET", f"/events?order_id={shipped}").status == 403
    schemas = oms.as_role("viewer").call("GET", "/events/schemas")
    assert schemas.status == 200
    assert set(schemas.json()["schemas"]) >= {*DATA_MODELS, FULFILMENT_UPDATED}


def test_the_catalogue_covers_every_event_issue_6_names():
    assert set(REQUIRED) == {
        "order created", "held", "approved", "allocated", "shipped", "delivered", "cancelled", "refunded",
        "exception opened",
    }  # fmt: skip
    for types in REQUIRED.values():
        for event_type in types:
            assert event_type in DATA_MODELS
            assert (DOCS / f"{event_type}.schema.json").exists()


def test_replay_publishes_an_orders_history_again_with_the_same_event_ids(oms, stack, shipped):
    before = [e["detail"]["event_id"] for e in _published(stack, shipped)]
    response = oms.call("POST", "/events/replay", {"order_id": shipped, "from_seq": 3})
    assert response.status == 200, response.body
    assert response.json()["republished"] == 2
    after = [e["detail"]["event_id"] for e in _published(stack, shipped)]
    assert after[: len(before)] == before
    assert after[len(before) :] == [f"{shipped}:3", f"{shipped}:4", before[-1]]  # + the fulfilment update
    assert oms.as_role("ops").call("POST", "/events/replay", {"order_id": shipped}).status == 403
    assert oms.call("POST", "/events/replay", {"order_id": "no-such-order"}).status == 404


def test_real_tracking_exception_and_after_sales_events_match_their_schemas(oms, stack, shipped):
    """Not annotated by hand: what the shipping, logistics and after-sales stages really record."""
    from tests.e2e.aftersales_support import confirm_refund, wait_case

    sku = new_sku()
    oms.set_stock(sku, 5)
    damaged_order, _ = oms.run(order_body([(sku, 1)]))
    delivered_parcel = oms.order(shipped)["shipments"][0]
    damaged_parcel = damaged_order["shipments"][0]
    start = stack.clock.now()
    for minute, status in enumerate(["picked", "in_transit", "out_for_delivery", "delivered"], start=1):
        at = (start + timedelta(minutes=minute)).isoformat()
        assert oms.track(delivered_parcel, status, f"ok-{minute}", at).status == 200
    answer = oms.track(damaged_parcel, "damaged", "bad-1", (start + timedelta(minutes=1)).isoformat())
    exception_id = answer.json()["exception_id"]
    resolved = oms.as_role("ops").call(
        "POST", f"/exceptions/{exception_id}/resolve", {"action": "refund", "comment": "broken"}
    )
    case_id = resolved.json()["resolution"]["refund_case_ids"][damaged_order["order_id"]]
    confirm_refund(oms, wait_case(oms, case_id, "REFUND_PENDING"))
    wait_case(oms, case_id, "CLOSED")

    delivered = _published(stack, shipped)
    refunded = _published(stack, damaged_order["order_id"])
    _assert_valid(delivered + refunded)
    delivered_types = [e["detail-type"] for e in delivered]
    assert {
        "shipment.picked",
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "shipment.delivered",
    } <= set(delivered_types)
    assert "order.delivered" in delivered_types
    assert [e["detail"]["shipment_status"] for e in delivered if e["detail-type"] == FULFILMENT_UPDATED][
        -1
    ] == "delivered"
    refunded_types = [e["detail-type"] for e in refunded]
    for expected in ("exception.opened", "exception.resolved", "aftersales.requested", "order.refunded"):
        assert expected in refunded_types, refunded_types
    (refund,) = [e["detail"] for e in refunded if e["detail-type"] == "order.refunded"]
    assert refund["data"]["amount"] == damaged_order["amounts"]["total"]


def _records(stack: Any, partition: str) -> list[dict[str, Any]]:
    table = stack.table_names["OrdersTable"]
    return stack.dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
        ConsistentRead=True,
    )["Items"]


def test_published_records_are_keyed_by_type_and_those_stored_before_stay_readable(oms, stack, shipped):
    """docs/adr/0007: a published event's record is keyed by its type (no index entry); one order's are
    found from its history. Records stored before (under the order, listed by type through GSI1) are
    read with them: here the order's order.shipped record is put back the way it was stored then."""
    from functions.core.repository._dynamo import shard_of
    from functions.core.settings import get_settings

    stack.settle()
    listed = oms.call("GET", f"/events?order_id={shipped}").json()["events"]
    shard = shard_of(shipped, get_settings().status_index_shards)
    shipped_records = [
        r
        for r in _records(stack, f"EVENTTYPE#order.shipped#{shard}")
        if r["detail"]["M"]["order_id"]["S"] == shipped
    ]
    assert len(shipped_records) == 1
    assert "gsi1pk" not in shipped_records[0]
    assert _records(stack, f"EVENTS#{shipped}") == []

    old = shipped_records[0]
    detail = old["detail"]["M"]
    table = stack.table_names["OrdersTable"]
    stack.dynamodb.delete_item(TableName=table, Key={"pk": old["pk"], "sk": old["sk"]})
    seq = int(detail["seq"]["N"])
    stack.dynamodb.put_item(
        TableName=table,
        Item={
            **old,
            "pk": {"S": f"EVENTS#{shipped}"},
            "sk": {"S": f"PUB#{seq:08d}#00"},
            "gsi1pk": {"S": f"EVENTTYPE#order.shipped#{shard}"},
            "gsi1sk": {"S": f"{detail['occurred_at']['S']}#{detail['event_id']['S']}"},
        },
    )
    again = oms.call("GET", f"/events?order_id={shipped}").json()["events"]
    assert sorted(json.dumps(e, sort_keys=True) for e in again) == sorted(
        json.dumps(e, sort_keys=True) for e in listed
    )
    by_type = oms.call("GET", "/events?type=order.shipped&limit=500").json()["events"]
    assert [e["bus_event_id"] for e in by_type if e["detail"]["order_id"] == shipped] == [
        e["bus_event_id"] for e in listed if e["detail_type"] == "order.shipped"
    ]
