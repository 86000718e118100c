"""The write shape (docs/adr/0005-write-units.md, 0006): the order's often-changing item stays under one
write unit, its body holds what the platform sent, the reservations it holds are attributes of its status
item (an order reserved before that keeps its RES# items until they are used), and an order POSTed to
/orders invokes no ship-back."""

from __future__ import annotations

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
