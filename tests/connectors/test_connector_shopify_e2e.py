"""Shopify end to end on the local stack: a signed orders/create becomes an order that ships and is
answered with a Shopify fulfillment; a cancellation before shipment intercepts it and releases stock."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from oms.local.fake_platform import FakePlatform, shopify_headers
from tests.connectors.channel_support import fixture, fresh_id, new_secret, raw
from tests.factories import new_sku


class Shop:
    def __init__(self, oms: Any, fake: FakePlatform) -> None:
        self.oms, self.fake = oms, fake
        self.domain = f"s{uuid_hex()}.myshopify.com"
        self.secret, self.token = new_secret(), "shpat_" + uuid_hex()
        fake.add_shopify_shop(self.domain, self.token)
        body = {
            "secret": self.secret,
            "access_token": self.token,
            "api_base_url": f"{fake.url}/shopify/{self.domain}",
        }
        response = oms.call("PUT", f"/channels/shopify/shops/{self.domain}", body)
        assert response.status == 200, response.body
        assert self.secret not in response.body
        assert self.token not in response.body

    def push(
        self, topic: str, document: Any, secret: str | None = None, age: timedelta = timedelta(0)
    ) -> Any:
        body = raw(document)
        at = self.oms.stack.clock.now() - age
        headers = shopify_headers(self.domain, topic, secret or self.secret, body, at)
        return self.oms.anonymous().call("POST", "/channels/shopify/webhooks", body.decode(), headers)


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def shopify_order(sku_a: str) -> dict[str, Any]:
    order = fixture("shopify_order.json", SKU_A=sku_a)
    order["id"] = fresh_id()
    for line in order["line_items"]:
        line["id"] = fresh_id(18)
    return order


@pytest.fixture
def shop(oms: Any, fake: FakePlatform) -> Shop:
    return Shop(oms, fake)


def _map_case(oms: Any, shop: Shop, order: dict[str, Any]) -> str:
    """The second line has no merchant code: ops map it through the shop's SKU map."""
    sku_b = new_sku("CASE")
    oms.set_stock(sku_b, 5)
    case = order["line_items"][1]
    mapping = {
        "mappings": [{"item_id": str(case["product_id"]), "sku_id": str(case["variant_id"]), "sku": sku_b}]
    }
    response = oms.as_role("ops").call("PUT", f"/channels/shopify/shops/{shop.domain}/sku-map", mapping)
    assert response.status == 200, response.body
    return sku_b


def test_orders_create_with_valid_hmac_ships_and_is_answered_with_a_fulfillment(oms, stack, shop, fake):
    sku_a = new_sku("IPOD")
    oms.set_stock(sku_a, 5)
    order = shopify_order(sku_a)
    sku_b = _map_case(oms, shop, order)

    response = shop.push("orders/create", order)
    assert response.status == 201, response.body
    answer = response.json()
    assert answer["outcome"] == "created"
    assert answer["platform_order_id"] == f"{shop.domain}:{order['id']}"
    created = oms.order(answer["order_id"])
    assert created["platform"] == "shopify"
    assert {(line["sku"], line["quantity"], line["unit_price"]) for line in created["lines"]} == {
        (sku_a, 2, "79.50"),
        (sku_b, 1, "40.00"),
    }
    assert created["amounts"] == {
        "currency": "USD",
        "subtotal": "199.00",
        "shipping": "10.00",
        "discount": "10.00",
        "tax": "9.50",
        "total": "208.50",
    }
    assert created["shipping_address"]["country"] == "CA"
    assert created["buyer"]["email"] == "jon@example.com"

    oms.wait(created["execution_arn"])
    shipped = oms.order(answer["order_id"])
    assert shipped["status"] == "SHIPPED"
    stack.settle()
    stack.run_until(lambda: bool(fake.received("fulfillment.create")))
    (call,) = fake.received("fulfillment.create")
    shipment = shipped["shipments"][0]
    assert call["order_id"] == str(order["id"])
    assert call["shop"] == shop.domain
    assert call["fulfillment"]["tracking_number"] == shipment["tracking_number"]
    assert call["fulfillment"]["tracking_company"] == shipment["carrier"]
    assert sorted((li["id"], li["quantity"]) for li in call["fulfillment"]["line_items"]) == sorted(
        (li["id"], li["quantity"]) for li in order["line_items"]
    )

    def recorded() -> list[tuple[str, str]]:
        found = oms.as_role("ops").call("GET", f"/webhooks/deliveries?order_id={answer['order_id']}").json()
        return [(d["status"], d["native_call"]) for d in found["deliveries"] if d["platform"] == "shopify"]

    stack.run_until(lambda: bool(recorded()))  # recorded right after Shopify answered
    assert recorded() == [("delivered", "fulfillment.create")]

    again = shop.push("orders/create", order)  # Shopify's retry of the same delivery
    assert again.status == 200
    assert again.json()["outcome"] == "unchanged"
    assert again.json()["order_id"] == answer["order_id"]


@pytest.mark.parametrize("topic", ["orders/cancelled", "refunds/create"])
def test_cancellation_before_shipment_intercepts_the_order_and_releases_stock(oms, stack, shop, topic):
    sku_a = new_sku("IPOD")
    oms.set_stock(sku_a, 5)
    order = shopify_order(sku_a)
    _map_case(oms, shop, order)
    # Hold the order in review (a buyer note holds it), so it is certainly not shipped yet.
    order["note"] = "please deliver after 6pm"
    created = shop.push("orders/create", order)
    assert created.status == 201, created.body
    order_id = created.json()["order_id"]
    stack.run_until(lambda: oms.order(order_id)["status"] in ("ON_HOLD", "SHIPPED"))
    assert oms.order(order_id)["status"] == "ON_HOLD"  # held for the buyer's note: not shipped

    cancelled = copy.deepcopy(order)
    cancelled["cancelled_at"] = "2026-01-01T09:10:00+08:00"
    cancelled["cancel_reason"] = "customer"
    cancelled["updated_at"] = "2026-01-01T09:10:00+08:00"
    if topic == "refunds/create":
        cancelled = fixture("shopify_refund.json")
        cancelled["order_id"] = order["id"]
    response = shop.push(topic, cancelled)
    assert response.status == 200, response.body
    assert response.json()["outcome"] == "intercepted"
    stack.run_until(lambda: oms.order(order_id)["status"] == "CANCELLED")
    assert oms.stock(sku_a)["reserved"] == 0
    assert oms.stock(sku_a)["available"] == 5


def test_bad_and_stale_signatures_are_refused_and_nothing_is_written(oms, stack, shop):
    order = shopify_order(new_sku())
    forged = shop.push("orders/create", order, secret=new_secret())
    assert forged.status == 401
    assert forged.json()["error"]["code"] == "BAD_SIGNATURE"
    stale = shop.push("orders/create", order, age=timedelta(hours=6))
    assert stale.status == 401
    assert stale.json()["error"]["code"] == "STALE_SIGNATURE"
    from functions.connectors.mapping import our_order_id

    assert oms.get(our_order_id("shopify", shop.domain, str(order["id"]))).status == 404


def test_malformed_payload_names_the_shopify_field_and_writes_nothing(oms, stack, shop):
    order = shopify_order(new_sku())
    order["line_items"][0]["price"] = "seventy"
    response = shop.push("orders/create", order)
    assert response.status == 422, response.body
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["line_items.0.price"]
    from functions.connectors.mapping import our_order_id

    assert oms.get(our_order_id("shopify", shop.domain, str(order["id"]))).status == 404


def test_unmapped_line_holds_the_order_until_ops_map_it(oms, stack, shop):
    sku_a = new_sku("IPOD")
    oms.set_stock(sku_a, 5)
    order = shopify_order(sku_a)
    held = shop.push("orders/create", order)
    assert held.status == 202, held.body
    assert held.json()["reason"] == "UNMAPPED_SKU"
    assert [u["item_id"] for u in held.json()["unmapped_lines"]] == [
        str(order["line_items"][1]["product_id"])
    ]
    listed = oms.call("GET", f"/channels/shopify/shops/{shop.domain}/held").json()["held"]
    assert [h["native_id"] for h in listed] == [str(order["id"])]
    assert oms.get(held.json()["order_id"]).status == 404

    sku_b = new_sku("CASE")
    oms.set_stock(sku_b, 5)
    case = order["line_items"][1]
    csv_body = f"item_id,sku_id,sku\n{case['product_id']},{case['variant_id']},{sku_b}\n"
    response = oms.as_role("ops").call(
        "PUT", f"/channels/shopify/shops/{shop.domain}/sku-map", csv_body, {"Content-Type": "text/csv"}
    )
    assert response.status == 200, response.body
    assert [r["outcome"] for r in response.json()["released"]] == ["created"]
    assert oms.order(held.json()["order_id"])["status"] in ("RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED")
    assert oms.call("GET", f"/channels/shopify/shops/{shop.domain}/held").json()["held"] == []


def test_paid_later_on_shopify_pays_the_order_and_changes_after_shipment_are_exceptions(oms, stack, shop):
    sku_a = new_sku("IPOD")
    oms.set_stock(sku_a, 5)
    order = shopify_order(sku_a)
    _map_case(oms, shop, order)
    order["financial_status"] = "pending"  # e.g. a bank transfer
    created = shop.push("orders/create", order)
    assert created.status == 201, created.body
    order_id = created.json()["order_id"]
    stack.run_until(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT")

    paid = copy.deepcopy(order)
    paid["financial_status"] = "paid"
    paid["updated_at"] = "2026-01-01T09:30:00+08:00"
    response = shop.push("orders/updated", paid)
    assert response.status == 200, response.body
    assert response.json()["outcome"] == "paid"
    stack.run_until(lambda: oms.order(order_id)["status"] == "SHIPPED")

    moved = copy.deepcopy(paid)
    moved["shipping_address"]["address1"] = "1 Sparks St"
    moved["updated_at"] = "2026-01-01T10:00:00+08:00"
    late = shop.push("orders/updated", moved)
    assert late.json()["outcome"] == "exception"
    assert oms.order(order_id)["shipping_address"]["line1"] == "123 Elm St"
    refund = fixture("shopify_refund.json")
    refund["order_id"] = order["id"]
    refunded = shop.push("refunds/create", refund)
    assert refunded.status == 200, refunded.body
    assert refunded.json()["outcome"] == "after_sales"
    timeline = [e["type"] for e in oms.history(order_id).json()["timeline"] if e["source"] == "order"]
    assert "channel.address_change_refused" in timeline
    assert "channel.cancel_after_shipment" in timeline


def test_shops_are_isolated_and_their_secrets_never_returned(oms, stack, shop, fake):
    other = Shop(oms, fake)
    order = shopify_order(new_sku())
    body = raw(order)
    headers = shopify_headers(shop.domain, "orders/create", other.secret, body, oms.stack.clock.now())
    crossed = oms.anonymous().call("POST", "/channels/shopify/webhooks", body.decode(), headers)
    assert crossed.status == 401  # another shop's secret does not admit this shop's orders
    assert crossed.json()["error"]["code"] == "BAD_SIGNATURE"
    unknown = shopify_headers(
        "nobody.myshopify.com", "orders/create", shop.secret, body, oms.stack.clock.now()
    )
    assert oms.anonymous().call("POST", "/channels/shopify/webhooks", body.decode(), unknown).status == 401
    assert oms.anonymous().call("POST", "/channels/ebay/webhooks", body.decode(), headers).status == 404

    listed = oms.as_role("viewer").call("GET", "/channels")
    assert listed.status == 200
    domains = {s["shop"] for s in listed.json()["shops"] if s["platform"] == "shopify"}
    assert {shop.domain, other.domain} <= domains
    assert shop.secret not in listed.body
    assert shop.token not in listed.body
    assert "shopify" in listed.json()["platforms"]
    again = {"secret": new_secret()}
    assert oms.as_role("ops").call("PUT", f"/channels/shopify/shops/{shop.domain}", again).status == 403
    assert oms.anonymous().call("GET", "/channels").status == 401
