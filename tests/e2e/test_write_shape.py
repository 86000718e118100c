"""The write shape (docs/adr/0005-write-units.md, 0006, 0007): the order's often-changing item stays under one
write unit, its body holds what the platform sent, the reservations it holds are attributes of its status
item (an order reserved before that keeps its RES# items until they are used), and an order POSTed to
/orders invokes no ship-back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from oms.local.moto_patches import item_size
from tests.factories import new_sku, order_body, order_id_of

pytestmark = pytest.mark.e2e

SHIP_BACK = "ChannelShipBackFunction"


def _raw(stack: Any, order_id: str, sk: str) -> dict[str, Any]:
    answer = stack.dynamodb.get_item(
        TableName=stack.table_names["OrdersTable"],
        Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": sk}},
        ConsistentRead=True,
    )
    return dict(answer["Item"])


def test_a_shipped_order_keeps_its_status_item_under_one_write_unit(oms, stack):
    from functions.core import repository

    skus = [new_sku() for _ in range(3)]
    for sku in skus:
        oms.set_stock(sku, 5)
    body = order_body([(sku, 2, "19.90") for sku in skus])
    order, _ = oms.run(body)
    assert order["status"] == "SHIPPED"
    order_id = order_id_of(body)

    status_item = _raw(stack, order_id, "ORDER")
    body_item = _raw(stack, order_id, "ORDER#BODY")
    assert item_size(status_item) < 1024  # every status change rewrites it: 1 WRU, 2 in a transaction
    assert {"lines", "shipping_address", "amounts", "gsi2pk"}.isdisjoint(status_item)
    assert status_item["status"] == {"S": "SHIPPED"}
    assert "status" not in body_item
    assert "gsi1pk" not in body_item
    assert [line["M"]["sku"]["S"] for line in body_item["lines"]["L"]] == skus

    stored = repository.get_order(order_id)
    assert [line.sku for line in stored.lines] == skus
    assert stored.status == "SHIPPED"
    assert stored.shipping_address.city == body["shipping_address"]["city"]
    assert repository.load_aggregate(order_id).order == stored
    assert repository.get_orders([order_id]) == [stored]


def _partition(stack: Any, order_id: str) -> dict[str, dict[str, Any]]:
    answer = stack.dynamodb.query(
        TableName=stack.table_names["OrdersTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}},
        ConsistentRead=True,
    )
    return {raw["sk"]["S"]: raw for raw in answer["Items"]}


def _park_unpaid(oms: Any, stack: Any, lines: list[tuple[str, int]]) -> tuple[str, str]:
    from functions.core import repository

    posted = oms.post(order_body(lines, payment={"status": "unpaid"}))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    stack.run_until(lambda: repository.get_order(order_id).status == "AWAITING_PAYMENT", 20, advance=False)
    return order_id, posted.json()["execution_arn"]


def test_reservations_are_held_on_the_status_item_and_given_back_from_it(oms, stack):
    from functions.core import repository

    first, second = new_sku(), new_sku()
    oms.set_stock(first, 5)
    oms.set_stock(second, 5)
    order_id, execution_arn = _park_unpaid(oms, stack, [(first, 2), (second, 1)])

    stored = _partition(stack, order_id)
    assert not [sk for sk in stored if sk.startswith("RES#")]
    status_item = stored["ORDER"]
    held = {
        name: value["M"]["quantity"]["N"] for name, value in status_item.items() if name.startswith("res#")
    }
    assert held == {f"res#{first}#WH-MAIN": "2", f"res#{second}#WH-MAIN": "1"}
    assert item_size(status_item) < 1024
    reserved = {(r.sku, r.quantity) for r in repository.load_aggregate(order_id).reservations}
    assert reserved == {(first, 2), (second, 1)}
    assert not {name for name in oms.order(order_id) if name.startswith("res#")}  # not part of the order
    assert oms.stock(first) == {"on_hand": 5, "reserved": 2, "available": 3}

    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"  # the pay deadline passes: cancelled

    assert repository.get_order(order_id).status == "CANCELLED"
    assert not [name for name in _partition(stack, order_id)["ORDER"] if name.startswith("res#")]
    assert repository.load_aggregate(order_id).reservations == []
    assert oms.stock(first) == {"on_hand": 5, "reserved": 0, "available": 5}
    assert oms.stock(second) == {"on_hand": 5, "reserved": 0, "available": 5}


def test_a_reservation_stored_as_its_own_item_before_is_given_back_once(oms, stack):
    from functions.core import repository

    sku = new_sku()
    oms.set_stock(sku, 4)
    order_id, execution_arn = _park_unpaid(oms, stack, [(sku, 3)])
    table = stack.table_names["OrdersTable"]
    attribute = f"res#{sku}#WH-MAIN"
    held = _partition(stack, order_id)["ORDER"][attribute]["M"]
    # as an order reserved before reservations moved onto the status item stored it
    stack.dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
        UpdateExpression="REMOVE #res",
        ExpressionAttributeNames={"#res": attribute},
    )
    stack.dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": f"RES#{sku}#WH-MAIN"}, **held},
    )
    assert [(r.sku, r.quantity) for r in repository.load_aggregate(order_id).reservations] == [(sku, 3)]

    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"

    assert repository.get_order(order_id).status == "CANCELLED"
    assert f"RES#{sku}#WH-MAIN" not in _partition(stack, order_id)
    assert oms.stock(sku) == {"on_hand": 4, "reserved": 0, "available": 4}


def test_an_order_posted_to_the_api_invokes_no_ship_back(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 1)])
    before = stack.runtime.lambda_invocations[SHIP_BACK]
    order, _ = oms.run(body)
    stack.settle()
    assert order["status"] == "SHIPPED"
    updates = [
        e["detail"]
        for e in stack.event_sources.events_on("oms-local-orders")
        if e["detail-type"] == "fulfilment.updated" and e["detail"].get("order_id") == order_id_of(body)
    ]
    assert [u["channel"] for u in updates] == ["api"]  # published for webhooks, not for ship-back
    assert stack.runtime.lambda_invocations[SHIP_BACK] == before


def _order_item_writes(log: list[Any], order_id: str) -> list[str]:
    """The action of every request that wrote the order's status item (a transaction counts once)."""
    key = {"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}}
    found: list[str] = []
    for record in log:
        if record.action == "TransactWriteItems":
            targets = [next(iter(i.values())) for i in record.body["TransactItems"]]
        elif record.action in ("PutItem", "UpdateItem", "DeleteItem"):
            targets = [record.body]
        else:
            continue
        if any({k: (t.get("Key") or t.get("Item", {})).get(k) for k in key} == key for t in targets):
            found.append(record.action)
    return found


def test_the_fast_path_writes_review_approval_with_allocation(oms, stack):
    """docs/adr/0007: on the fast path review decides and allocation's change records the approval:
    the status item is written at create, for the execution ARN, at allocation and at ship; the history a
    reader sees is the same four events, in order, each with its own status change."""
    from functions.core import repository

    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 2)])
    stack.runtime.dynamodb_log = log = []
    try:
        order, _ = oms.run(body)
    finally:
        stack.runtime.dynamodb_log = None
    order_id = order_id_of(body)
    assert order["status"] == "SHIPPED"
    assert _order_item_writes(log, order_id) == [
        "TransactWriteItems",  # created, with order.received
        "UpdateItem",  # the execution ARN
        "TransactWriteItems",  # review.approve and stock.reserved, with the stock
        "TransactWriteItems",  # order.shipped
    ]
    timeline = oms.history(order_id).json()["timeline"]
    history = [e for e in timeline if e["source"] == "order"]
    changes = [(e["seq"], e["type"], e.get("from_status"), e["to_status"], e["actor"]) for e in history]
    assert changes == [
        (1, "order.received", None, "RECEIVED", "platform:tmall"),
        (2, "review.approve", "RECEIVED", "APPROVED", "stage:review"),
        (3, "stock.reserved", "APPROVED", "ALLOCATED", "stage:allocate"),
        (4, "order.shipped", "ALLOCATED", "SHIPPED", "stage:ship"),
    ]
    stored = repository.get_order(order_id)
    assert stored.review is not None
    assert stored.review.decision == "approve"
    assert stored.rules_version is not None
    assert history[1]["detail"]["rules_version"] == stored.rules_version
    # the approval keeps the moment review decided it, not allocation's
    states = {e.get("state"): e["at"] for e in timeline if e.get("type") == "TaskStateEntered"}
    entered = {state: datetime.fromisoformat(at) for state, at in states.items()}
    assert entered["Review"] <= datetime.fromisoformat(history[1]["at"]) <= entered["Allocate"]


def test_a_deferred_approval_is_written_once_whatever_retries_and_outcome(oms, stack):
    """Review retried on the fast path writes nothing; allocation retried after it wrote the approval
    finds it recorded; an allocation that rejects for want of stock records the approval first."""
    from functions.allocate.service import ReviewDecided, allocate_order
    from functions.core import clock, repository
    from functions.review.service import review_order
    from tests.factories import stored_order

    sku, missing = new_sku(), new_sku()
    oms.set_stock(sku, 3)
    oms.set_stock(missing, 0)
    results = {}
    for name, lines in (("stocked", [(sku, 2)]), ("short", [(missing, 1)])):
        order, event = stored_order(order_body(lines), clock.now())
        assert repository.create_order(order, event)
        decided = [review_order(order.order_id, "exec-1", defer_approval=True) for _ in range(2)]
        version = decided[0].rules_version
        assert [d.model_dump(exclude={"decided_at"}) for d in decided] == [
            {"decision": "approve", "reasons": [], "rules_version": version, "recorded": False}
        ] * 2
        stack.clock.advance(5)  # allocation runs later: the approval keeps review's time
        untouched = repository.get_order(order.order_id)
        assert (untouched.status, untouched.version, untouched.review) == ("RECEIVED", 1, None)
        review = ReviewDecided(**decided[0].model_dump())
        results[name] = [allocate_order(order.order_id, "exec-1", review).outcome for _ in range(2)]
        events = repository.load_aggregate(order.order_id).events
        results[name + "_history"] = [(e.seq, e.type, e.to_status.value) for e in events]
        assert events[1].at == decided[1].decided_at
        assert events[2].at == clock.now()
    assert results["stocked"] == ["allocated", "allocated"]
    assert results["stocked_history"] == [
        (1, "order.received", "RECEIVED"),
        (2, "review.approve", "APPROVED"),
        (3, "stock.reserved", "ALLOCATED"),
    ]
    assert results["short"] == ["out_of_stock", "out_of_stock"]
    assert results["short_history"] == [
        (1, "order.received", "RECEIVED"),
        (2, "review.approve", "APPROVED"),
        (3, "stock.short", "REJECTED"),
    ]
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 2, "available": 1}
