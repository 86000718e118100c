"""The write shape (docs/adr/0005-write-units.md): the order's often-changing item stays under one write
unit, its body holds what the platform sent, and an order POSTed to /orders invokes no ship-back."""

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
