"""JD, 抖店, Pinduoduo and WooCommerce pushes on the local stack: native signatures (good, bad, stale),
create, duplicate push, address update, cancel, refund, unknown fields, malformed payload -> 4xx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from functions.connectors.mapping import our_order_id
from tests.connectors.channel_support import new_secret
from tests.connectors.harnesses import HARNESSES, Harness
from tests.factories import new_sku

PLATFORMS = sorted(HARNESSES)


@pytest.fixture(params=PLATFORMS)
def shop(request: Any, oms: Any, fake: Any) -> Harness:
    return HARNESSES[request.param](oms, fake)


def _held_order(oms: Any, stack: Any, shop: Harness) -> tuple[Any, str, str]:
    """An order the review holds (a buyer remark), so it is certainly not shipped yet."""
    sku_a = new_sku("A")
    oms.set_stock(sku_a, 10)
    document = shop.order(sku_a, remark="请下午送达")
    if shop.platform != "douyin":
        item_id, sku_id = shop.second_line(document)
        sku_b = new_sku("B")
        oms.set_stock(sku_b, 10)
        mapping = {"mappings": [{"item_id": item_id, "sku_id": sku_id, "sku": sku_b}]}
        mapped = oms.as_role("ops").call(
            "PUT", f"/channels/{shop.platform}/shops/{shop.key}/sku-map", mapping
        )
        assert mapped.status == 200, mapped.body
    created = shop.push(document)
    assert created.status == 201, created.body
    order_id = created.json()["order_id"]
    assert order_id == our_order_id(shop.platform, shop.key, shop.native_id(document))
    stack.run_until(lambda: oms.order(order_id)["status"] == "ON_HOLD")
    return document, order_id, sku_a


def test_create_duplicate_update_and_cancel(oms, stack, shop):
    document, order_id, sku_a = _held_order(oms, stack, shop)
    order = oms.order(order_id)
    assert order["platform"] == shop.platform
    assert order["platform_order_id"] == f"{shop.key}:{shop.native_id(document)}"
    assert sku_a in {line["sku"] for line in order["lines"]}

    again = shop.push(document)  # the platform's retry
    assert again.status == 200, again.body
    assert again.json()["outcome"] == "unchanged"
    assert again.json()["order_id"] == order_id

    moved = shop.with_address(document, "新地址路1号")
    response = shop.push(moved, event="update")
    assert response.status == 200, response.body
    assert response.json()["outcome"] == "updated"
    assert "新地址路1号" in oms.order(order_id)["shipping_address"]["line1"]

    if shop.platform != "douyin":  # 抖店 messages carry no modified time; its reads are always current
        stale = shop.push(document, event="update")  # the older version, delivered late
        assert stale.json()["outcome"] == "stale"
        assert "新地址路1号" in oms.order(order_id)["shipping_address"]["line1"]

    cancel = shop.push(shop.cancelled(moved), event="cancel")
    assert cancel.status == 200, cancel.body
    assert cancel.json()["outcome"] == "intercepted"
    stack.run_until(lambda: oms.order(order_id)["status"] == "CANCELLED")
    assert oms.stock(sku_a)["reserved"] == 0


def test_refund_request_before_shipment_intercepts(oms, stack, shop):
    document, order_id, _ = _held_order(oms, stack, shop)
    response = shop.push(shop.refunding(document), event="refund")
    assert response.status == 200, response.body
    assert response.json()["outcome"] == "intercepted"
    stack.run_until(lambda: oms.order(order_id)["status"] == "CANCELLED")


def test_bad_and_stale_signatures_write_nothing(oms, stack, shop):
    document = shop.order(new_sku())
    forged = shop.push(document, secret=new_secret())
    assert forged.status == 401, forged.body
    assert forged.json()["error"]["code"] == "BAD_SIGNATURE"
    if shop.signs_time:
        stale = shop.push(document, age=timedelta(minutes=30))
        assert stale.status == 401, stale.body
        assert stale.json()["error"]["code"] == "STALE_SIGNATURE"
    assert oms.get(our_order_id(shop.platform, shop.key, shop.native_id(document))).status == 404


def test_malformed_payload_names_the_platform_field_and_writes_nothing(oms, stack, shop):
    document, field = shop.broken(shop.order(new_sku()))
    response = shop.push(document)
    assert response.status == 422, response.body
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert oms.get(our_order_id(shop.platform, shop.key, shop.native_id(document))).status == 404


SHIP_BACK = {
    "woocommerce": "shipment-trackings.create",
    "jd": "jingdong.pop.order.shipment",
    "pinduoduo": "pdd.logistics.online.send",
    "douyin": "order.logisticsAdd",
}


def test_shipping_is_answered_with_the_platforms_own_call(oms, stack, shop, fake):
    _, order_id, _ = _held_order(oms, stack, shop)
    decisions: list[Any] = []

    def approved() -> bool:  # 503 RETRY until the hold's wait is registered
        path, decision = f"/orders/{order_id}/review", {"decision": "approve", "comment": "ok"}
        decisions.append(oms.as_role("ops").call("POST", path, decision))
        return decisions[-1].status != 503

    stack.run_until(approved)
    assert decisions[-1].status == 200, decisions[-1].body
    stack.run_until(lambda: oms.order(order_id)["status"] == "SHIPPED")
    shipment = oms.order(order_id)["shipments"][0]
    name = SHIP_BACK[shop.platform]
    stack.run_until(lambda: bool(fake.received(name)))
    (call,) = fake.received(name)
    assert shipment["tracking_number"] in {str(v) for v in _flatten(call)}

    def recorded() -> list[tuple[str, str]]:
        answer = oms.as_role("ops").call("GET", f"/webhooks/deliveries?order_id={order_id}").json()
        return [
            (d["status"], d["native_call"]) for d in answer["deliveries"] if d["platform"] == shop.platform
        ]

    stack.run_until(lambda: bool(recorded()))  # recorded right after the platform answered
    assert recorded() == [("delivered", name)]


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    return [value]


def test_a_platform_shop_id_names_one_of_our_shops_only(oms, stack, shop):
    body = {"secret": new_secret(), "native_shop_id": shop.native_shop}
    taken = oms.call("PUT", f"/channels/{shop.platform}/shops/{shop.key}-copy", body)
    assert taken.status == 409, taken.body
    assert taken.json()["error"]["fields"][0]["field"] == "body.native_shop_id"
    listed = oms.call("GET", "/channels").json()["shops"]
    assert f"{shop.key}-copy" not in {s["shop"] for s in listed}
