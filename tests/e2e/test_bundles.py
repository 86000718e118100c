"""Bundles (组合装): a bundle line explodes into its components at capture, which are reserved, shipped,
returned and refunded like ordinary lines; bundles racing for a shared component never oversell."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.aftersales_support import confirm_refund, finished, open_case, wait_case
from tests.e2e.stock_support import assert_conserved
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def bundle(oms: Any, *components: tuple[str, int, str | None]) -> str:
    """A bundle product of `components` (sku, units per bundle, value or None)."""
    sku = new_sku("BOX")
    parts = [
        {"sku": part, "quantity": units, **({"value": value} if value else {})}
        for part, units, value in components
    ]
    stored = oms.as_role("merchandiser").call(
        "PUT", f"/products/{sku}", {"name": "Gift box", "components": parts, "version": 0}
    )
    assert stored.status == 200, stored.body
    return sku


def shipped_units(order: dict[str, Any]) -> Counter[str]:
    units: Counter[str] = Counter()
    for shipment in order["shipments"]:
        for item in shipment["lines"]:
            units[item["sku"]] += item["quantity"]
    return units


def test_a_bundle_order_reserves_and_ships_its_components(oms):
    tea, cup = new_sku("TEA"), new_sku("CUP")
    oms.set_stock(tea, 10)
    oms.set_stock(cup, 10)
    box = bundle(oms, (tea, 1, "60.00"), (cup, 2, "20.00"))

    order, execution = oms.run(order_body([(box, 2, "99.99"), (tea, 1, "58.00")]))
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED", order["status"]
    assert [(x["sku"], x["quantity"], x.get("line_total")) for x in order["lines"]] == [
        (tea, 3, "177.99"),  # 119.99 of the two boxes + 58.00 on its own
        (cup, 4, "79.99"),
    ]
    assert [
        (o["line"], o["sku"], o["units_per_bundle"], o["amount"]) for o in order["lines"][0]["origins"]
    ] == [
        (0, box, 1, "119.99"),
        (1, tea, None, "58.00"),
    ]
    assert order["bundles"] == [
        {
            "line": 0,
            "sku": box,
            "quantity": 2,
            "amount": "199.98",
            "components": [
                {"sku": tea, "units_per_bundle": 1, "quantity": 2, "amount": "119.99"},
                {"sku": cup, "units_per_bundle": 2, "quantity": 4, "amount": "79.99"},
            ],
        }
    ]
    assert shipped_units(order) == {tea: 3, cup: 4}
    assert oms.stock(tea) == {"on_hand": 7, "reserved": 0, "available": 7}
    assert oms.stock(cup) == {"on_hand": 6, "reserved": 0, "available": 6}
    for sku in (tea, cup):
        assert_conserved(sku)


def test_returning_one_bundle_refunds_its_components_exact_share(oms):
    tea, cup = new_sku("TEA"), new_sku("CUP")
    oms.set_stock(tea, 5)
    oms.set_stock(cup, 5)
    box = bundle(oms, (tea, 1, "60.00"), (cup, 2, "20.00"))
    body = order_body([(box, 2, "99.99")], buyer={"id": f"buyer-{uuid.uuid4().hex[:10]}"})
    order, _ = oms.run(body)
    assert order["status"] == "SHIPPED", order["status"]

    refunded = []
    for _ in range(2):  # one box, then the other: shares to the cent, adding up to what was paid
        opened = open_case(
            oms.as_role("customer_service"),
            order["order_id"],
            "refund_only",
            [{"sku": tea, "quantity": 1}, {"sku": cup, "quantity": 2}],
        )
        assert opened.status == 201, opened.body
        pending = wait_case(oms, opened.json()["case_id"], "REFUND_PENDING")
        assert confirm_refund(oms, pending).status == 200
        finished(oms, pending)
        refunded.append((pending["amount"], [(x["sku"], x["amount"]) for x in pending["lines"]]))

    assert refunded == [
        ("99.98", [(tea, "59.99"), (cup, "39.99")]),  # rounded down to the cent while units remain
        ("100.00", [(tea, "60.00"), (cup, "40.00")]),  # the last units take exactly what is left
    ]
    assert oms.order(order["order_id"])["refund_summary"]["refunded"] == "199.98"


def test_a_client_cannot_say_where_a_line_came_from(oms):
    tea = new_sku("TEA")
    oms.set_stock(tea, 5)
    forged = {"sku": tea, "quantity": 1, "unit_price": "1.00", "line_total": "0.01"}
    refused = oms.post(order_body([forged], subtotal="1.00"))
    assert refused.status == 422, refused.body
    assert refused.json()["error"]["fields"][0]["field"] == "body.lines.0.line_total"
    assert oms.stock(tea)["reserved"] == 0


def test_a_bundle_with_an_inactive_component_is_refused_naming_its_line(oms):
    tea, cup = new_sku("TEA"), new_sku("CUP")
    oms.set_stock(tea, 5)
    oms.set_stock(cup, 5)
    box = bundle(oms, (tea, 1, None), (cup, 1, None))
    assert (
        oms.as_role("merchandiser").call("PUT", f"/products/{cup}", {"active": False, "version": 1}).status
        == 200
    )
    refused = oms.post(order_body([(tea, 1), (box, 1)]))
    assert refused.status == 422, refused.body
    assert refused.json()["error"]["code"] == "UNKNOWN_SKU"
    assert (
        refused.json()["error"]["message"]
        == f"lines[1].sku: {box} contains {cup}, which is inactive in the product master"
    )
    assert oms.stock(tea)["reserved"] == 0


def test_concurrent_bundle_orders_sharing_a_component_never_oversell(oms):
    """Two kinds of box share the tea; 12 orders race for 7 teas. Each order ships whole or not at all,
    no more tea leaves than there was, and every counter equals its ledger."""
    tea, cup, pot = new_sku("TEA"), new_sku("CUP"), new_sku("POT")
    initial = {tea: 7, cup: 50, pot: 50}
    for sku, units in initial.items():
        oms.set_stock(sku, units)
    cup_box = bundle(oms, (tea, 1, None), (cup, 2, None))
    pot_box = bundle(oms, (tea, 2, None), (pot, 1, None))
    bodies = [order_body([(cup_box if n % 2 else pot_box, 1, "30.00")]) for n in range(10)]
    bodies += [order_body([(cup_box, 1, "30.00"), (pot_box, 1, "30.00")]) for _ in range(2)]  # tea merged: 3

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(oms.post, bodies))
    assert [a.status for a in answers] == [201] * len(bodies)
    for answer in answers:
        assert oms.wait(answer.json()["execution_arn"])["status"] == "SUCCEEDED"
    orders = [oms.order(a.json()["order_id"]) for a in answers]

    shipped = Counter[str]()
    for order in orders:
        need = {line["sku"]: line["quantity"] for line in order["lines"]}
        if order["status"] == "SHIPPED":
            assert shipped_units(order) == need
            shipped.update(need)
        else:
            assert order["status"] == "REJECTED", order["status"]
            assert shipped_units(order) == {}
    assert 0 < shipped[tea] <= initial[tea]
    assert initial[tea] - shipped[tea] < 3  # the race stopped only when no order could be served
    for sku, units in initial.items():
        assert oms.stock(sku) == {
            "on_hand": units - shipped[sku],
            "reserved": 0,
            "available": units - shipped[sku],
        }
        assert_conserved(sku)


def test_returning_a_bundle_by_its_sku_refunds_its_origin_share_of_a_merged_line(oms):
    """Two bundles share the tea, each at its own value: returning the pot box (named as sold) refunds
    its two teas at 10.00, not the merged tea line's average; the cup box then refunds the rest."""
    tea, cup, pot = new_sku("TEA"), new_sku("CUP"), new_sku("POT")
    for sku in (tea, cup, pot):
        oms.set_stock(sku, 5)
    cup_box = bundle(oms, (tea, 1, "60.00"), (cup, 2, "20.00"))
    pot_box = bundle(oms, (tea, 2, "10.00"), (pot, 1, "50.00"))
    body = order_body(
        [(cup_box, 1, "100.00"), (pot_box, 1, "70.00")], buyer={"id": f"buyer-{uuid.uuid4().hex[:10]}"}
    )
    order, _ = oms.run(body)
    assert order["status"] == "SHIPPED", order["status"]

    refunded = []
    for box in (pot_box, cup_box):
        opened = open_case(
            oms.as_role("customer_service"), order["order_id"], "refund_only", [{"sku": box, "quantity": 1}]
        )
        assert opened.status == 201, opened.body
        pending = wait_case(oms, opened.json()["case_id"], "REFUND_PENDING")
        assert confirm_refund(oms, pending).status == 200
        finished(oms, pending)
        refunded.append(sorted((x["sku"], x["quantity"], x["amount"]) for x in pending["lines"]))

    assert refunded == [
        sorted([(tea, 2, "20.00"), (pot, 1, "50.00")]),  # the average would be 80.00 x 2/3 = 53.33
        sorted([(tea, 1, "60.00"), (cup, 2, "40.00")]),
    ]
    assert oms.order(order["order_id"])["refund_summary"]["refunded"] == "170.00"
    again = open_case(
        oms.as_role("customer_service"), order["order_id"], "refund_only", [{"sku": pot_box, "quantity": 1}]
    )
    assert again.status == 409, again.body
    assert again.json()["error"]["code"] == "OVER_CLAIMED"
