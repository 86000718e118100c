"""Ship-back names the platform's own line items: a bundle (组合装) stored as its components is reported
as the platform's bundle line once every component has left, never as the component SKUs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from functions.connectors.contract import LineRef
from functions.connectors.fulfilled import fulfilled_refs
from functions.core.models.order_in import OrderLine
from functions.core.models.shipping import Shipment
from functions.core.models.stock import Reservation
from functions.core.products import Component, Product
from functions.ingest.logic import stored_lines
from oms.local.fake_platform import FakePlatform
from tests.connectors.test_connector_shopify_e2e import Shop, shopify_order
from tests.factories import new_sku

AT = datetime(2026, 3, 1, tzinfo=UTC)
MASTER = {
    "BOX": Product(
        sku="BOX", version=1, components=(Component(sku="TEA", quantity=1), Component(sku="CUP", quantity=2))
    ),
    "TEA": Product(sku="TEA", version=1),
    "CUP": Product(sku="CUP", version=1),
}
# Platform line items as the mapping keeps them: two of the platform's lines both map to TEA
REFS = [LineRef("BOX", "li-box", 2), LineRef("TEA", "li-tea-1", 1), LineRef("TEA", "li-tea-2", 2)]


def shipment(shipment_id: str, minutes: int, **units: int) -> Shipment:
    return Shipment(
        shipment_id=shipment_id,
        order_id="ord-1",
        warehouse="WH",
        carrier="SF",
        tracking_number=shipment_id,
        lines=[Reservation(sku=sku, warehouse="WH", quantity=n) for sku, n in units.items()],
        created_at=AT + timedelta(minutes=minutes),
    )


def lines() -> list[OrderLine]:
    posted = [
        OrderLine(sku="BOX", quantity=2, unit_price=Decimal("50.00")),
        OrderLine(sku="TEA", quantity=3, unit_price=Decimal("10.00")),
    ]
    return stored_lines(posted, MASTER)


def test_one_parcel_fulfils_every_platform_line_item_with_its_own_units():
    parcel = shipment("s1", 0, TEA=5, CUP=4)
    assert fulfilled_refs(lines(), [parcel], "s1", REFS) == REFS


def test_a_bundle_line_is_reported_with_the_parcel_that_completes_it():
    tea_first = shipment("s1", 0, TEA=3)  # the bundles' tea (first in posted order) and one loose tea
    cups = shipment("s2", 5, CUP=4)
    rest = shipment("s3", 9, TEA=2)
    parcels = [tea_first, cups, rest]
    assert fulfilled_refs(lines(), parcels, "s1", REFS) == [LineRef("TEA", "li-tea-1", 1)]
    assert fulfilled_refs(lines(), parcels, "s2", REFS) == [LineRef("BOX", "li-box", 2)]
    assert fulfilled_refs(lines(), parcels, "s3", REFS) == [LineRef("TEA", "li-tea-2", 2)]
    assert fulfilled_refs(lines(), parcels, "s9", REFS) is None  # unknown: the caller names every line


def test_one_bundle_of_two_completes_with_half_the_components():
    half = shipment("s1", 0, TEA=1, CUP=2)
    assert fulfilled_refs(lines(), [half], "s1", REFS) == [LineRef("BOX", "li-box", 1)]


def test_shopify_is_answered_with_its_bundle_line_item_not_the_components(oms, stack, fake: FakePlatform):
    shop = Shop(oms, fake)
    sku_a, tea, cup = new_sku("IPOD"), new_sku("TEA"), new_sku("CUP")
    for sku in (sku_a, tea, cup):
        oms.set_stock(sku, 10)
    box = new_sku("BOX")
    parts = [{"sku": tea, "quantity": 1}, {"sku": cup, "quantity": 2}]
    stored = oms.as_role("merchandiser").call(
        "PUT", f"/products/{box}", {"name": "Gift box", "components": parts, "version": 0}
    )
    assert stored.status == 200, stored.body
    order: dict[str, Any] = shopify_order(sku_a)
    case = order["line_items"][1]  # the platform's line for the box, mapped to the bundle's SKU
    mapping = {
        "mappings": [{"item_id": str(case["product_id"]), "sku_id": str(case["variant_id"]), "sku": box}]
    }
    mapped = oms.as_role("ops").call("PUT", f"/channels/shopify/shops/{shop.domain}/sku-map", mapping)
    assert mapped.status == 200, mapped.body

    answer = shop.push("orders/create", order)
    assert answer.status == 201, answer.body
    created = oms.order(answer.json()["order_id"])
    assert {line["sku"] for line in created["lines"]} == {sku_a, tea, cup}  # the box is stored exploded
    oms.wait(created["execution_arn"])
    assert oms.order(created["order_id"])["status"] == "SHIPPED"
    stack.settle()
    stack.run_until(lambda: bool(fake.received("fulfillment.create")))
    (call,) = fake.received("fulfillment.create")
    assert sorted((li["id"], li["quantity"]) for li in call["fulfillment"]["line_items"]) == sorted(
        (li["id"], li["quantity"]) for li in order["line_items"]
    )
