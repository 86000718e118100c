"""The product master (商品资料): what a SKU is comes from the OMS, never from the order.

PUT/GET /products, search and pagination, CSV import, roles and versions; capture refusing unknown or
inactive SKUs with nothing written; the "virtual laptop" attack refused with stock left correct.
"""

from __future__ import annotations

from typing import Any

from functions.core import repository
from tests.e2e.stock_support import eventually
from tests.factories import line, new_platform_order_id, new_sku, order_body, order_id_of
from tests.review_helpers import post_and_hold, review, review_rules


def put(oms: Any, sku: str, version: int = 0, role: str = "merchandiser", **fields: Any) -> Any:
    return oms.as_role(role).call("PUT", f"/products/{sku}", {**fields, "version": version})


# ---------------------------------------------------------------- the master itself


def test_a_merchandiser_creates_and_changes_a_product_and_every_version_stays(oms):
    sku = new_sku("LAPTOP")
    created = put(
        oms, sku, name="Laptop 14", weight_kg="1.6", size={"length_cm": 35, "width_cm": 25, "height_cm": 3}
    )
    assert created.status == 200, created.body
    assert created.json()["version"] == 1
    assert created.json()["kind"] == "physical"
    assert created.json()["saved_by"] == "user:test-merchandiser"

    changed = put(oms, sku, version=1, name="Laptop 14 (2026)", weight_kg="1.5", gift_eligible=True)
    assert changed.status == 200, changed.body
    stale = put(oms, sku, version=1, name="someone else's edit")
    assert stale.status == 409
    assert stale.json()["error"]["code"] == "STALE_PRODUCT"

    read = oms.as_role("ops").call("GET", f"/products/{sku}").json()
    assert (read["version"], read["name"], read["weight_kg"], read["gift_eligible"]) == (
        2,
        "Laptop 14 (2026)",
        "1.5",
        True,
    )
    versions = oms.call("GET", f"/products/{sku}/versions").json()["versions"]
    assert [(v["version"], v["name"]) for v in versions] == [(2, "Laptop 14 (2026)"), (1, "Laptop 14")]


def test_ops_reads_but_cannot_write_and_bad_fields_are_named(oms):
    sku = new_sku()
    refused = put(oms, sku, role="ops", name="x")
    assert refused.status == 403
    virtual_without_kind = put(oms, sku, kind="virtual")
    assert virtual_without_kind.status == 422
    assert "virtual_kind" in virtual_without_kind.json()["error"]["message"]
    negative = put(oms, sku, weight_kg="-1")
    assert negative.status == 422
    assert "weight_kg" in negative.json()["error"]["message"]
    assert oms.call("GET", f"/products/{sku}").status == 404  # nothing stored by the refusals


def test_a_bundle_names_known_non_bundle_components(oms):
    part, bundle = new_sku("PART"), new_sku("BUNDLE")
    unknown = put(oms, bundle, components=[{"sku": part, "quantity": 2}])
    assert unknown.status == 422
    assert unknown.json()["error"]["code"] == "INVALID_BUNDLE"
    assert put(oms, part).status == 200
    stored = put(oms, bundle, components=[{"sku": part, "quantity": 2}])
    assert stored.status == 200, stored.body
    nested = put(oms, new_sku("OUTER"), components=[{"sku": bundle, "quantity": 1}])
    assert nested.status == 422
    assert "itself a bundle" in nested.json()["error"]["message"]


def test_search_by_text_kind_and_active_one_page_at_a_time(oms):
    tag = new_sku("SRCH")
    for n in range(5):
        assert put(oms, f"{tag}-P{n}", name=f"Mug {n}").status == 200
    assert put(oms, f"{tag}-V", name="Warranty", kind="virtual", virtual_kind="service").status == 200
    assert put(oms, f"{tag}-OLD", name="Old mug", active=False).status == 200

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = f"/products?q={tag}&kind=physical&active=true&limit=2" + (
            f"&next_token={token}" if token else ""
        )
        page = oms.as_role("ops").call("GET", query).json()
        seen += [p["sku"] for p in page["products"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert seen == [f"{tag}-P{n}" for n in range(5)]
    assert pages == 3
    virtual = oms.call("GET", f"/products?q={tag}&kind=virtual").json()["products"]
    assert [p["sku"] for p in virtual] == [f"{tag}-V"]
    inactive = oms.call("GET", f"/products?q={tag}&active=false").json()["products"]
    assert [p["sku"] for p in inactive] == [f"{tag}-OLD"]
    assert oms.call("GET", f"/products?q={tag}&next_token=garbage").status == 400


def test_a_csv_import_stores_good_rows_and_reports_every_row(oms):
    a, b, c = new_sku("CSV"), new_sku("CSV"), new_sku("CSV")
    csv_text = (
        "sku,name,kind,virtual_kind,weight_kg,components,gift_eligible,active\n"
        f"{a},Rice 5kg,physical,,5.1,,no,yes\n"
        f"{b},Gift card,virtual,card_code,,,,\n"
        f"{c},Broken,virtual,,,,,\n"
        "bad sku!,x,,,,,,\n"
        f"{new_sku('CSV')},Set,,,,{a}:2;{new_sku('NOPE')}:1,,\n"
        f"{a},Rice again,physical,,5.1,,no,yes\n"
    )
    answer = oms.as_role("merchandiser").call(
        "POST", "/products/import", csv_text, {"Content-Type": "text/csv"}
    )
    assert answer.status == 200, answer.body
    rows = answer.json()["rows"]
    assert [(r["row"], r["outcome"]) for r in rows] == [
        (1, "created"),
        (2, "created"),
        (3, "error"),
        (4, "error"),
        (5, "error"),
        (6, "error"),
    ]
    assert "virtual_kind" in rows[2]["error"]
    assert rows[3]["error"].startswith("sku")
    assert "not in the product master" in rows[4]["error"]
    assert "repeated" in rows[5]["error"]
    assert answer.json()["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "error": 4}
    assert oms.call("GET", f"/products/{a}").json()["weight_kg"] == "5.1"
    assert oms.call("GET", f"/products/{c}").status == 404

    again = oms.as_role("merchandiser").call("POST", "/products/import", f"sku,name\n{b},Gift card\n")
    assert [r["outcome"] for r in again.json()["rows"]] == ["updated"]  # kind back to the default: physical
    assert oms.as_role("ops").call("POST", "/products/import", "sku\nX1\n").status == 403


# ---------------------------------------------------------------- capture


def test_an_unknown_sku_is_refused_at_capture_naming_the_line_and_nothing_is_written(oms):
    known, unknown = new_sku(), new_sku("NO-SUCH")
    oms.set_stock(known, 5)
    body = order_body([(known, 1), (unknown, 1)], platform_order_id=new_platform_order_id())
    refused = oms.without_product_seeding().post(body)
    assert refused.status == 422, refused.body
    error = refused.json()["error"]
    assert error["code"] == "UNKNOWN_SKU"
    assert error["message"].startswith(f"lines[1].sku: {unknown}")
    assert [(f["field"], f["type"]) for f in error["fields"]] == [("body.lines.1.sku", "unknown_sku")]
    order_id = order_id_of(body)
    assert oms.get(order_id).status == 404
    assert oms.executions_named(order_id) == []
    assert oms.stock(known) == {"on_hand": 5, "reserved": 0, "available": 5}
    assert repository.get_stock(unknown) == []


def test_an_inactive_sku_is_refused_like_an_unknown_one(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    assert put(oms, sku, version=1, active=False).status == 200
    refused = oms.post(order_body([(sku, 1)]))
    assert refused.status == 422
    assert refused.json()["error"]["code"] == "UNKNOWN_SKU"
    assert "inactive" in refused.json()["error"]["message"]
    assert oms.stock(sku)["reserved"] == 0


def test_the_virtual_laptop_attack_is_refused_and_stock_stays_correct(oms):
    """50 laptops marked virtual while 3 are in stock: the master says physical, so the order waits for
    stock like any laptop order; nothing ships virtually and stock is never overdrawn."""
    laptop = new_sku("LAPTOP")
    oms.set_stock(laptop, 3)
    posted = oms.post(order_body([line(laptop, 50, "5999.00", virtual=True)]))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]

    def settled() -> dict[str, Any] | None:
        order = oms.order(order_id)
        return order if order["status"] not in ("RECEIVED", "VALIDATED", "REVIEWED", "PAID") else None

    order = eventually(settled, what="the laptop order to leave capture")
    assert order["lines"][0]["virtual"] is False  # the master's kind, not the platform's flag
    assert order["status"] not in ("SHIPPED", "DELIVERED")
    assert order["shipments"] == []
    stock = oms.stock(laptop)
    assert stock["on_hand"] == 3
    assert 0 <= stock["reserved"] <= 3
    assert stock["available"] == 3 - stock["reserved"]


def test_a_product_virtual_in_the_master_ships_virtually_without_the_platform_saying_so(oms):
    card = new_sku("CARD")
    assert put(oms, card, kind="virtual", virtual_kind="card_code").status == 200
    order, _ = oms.run(order_body([(card, 2, "50.00")]))
    assert order["lines"][0]["virtual"] is True
    assert order["status"] == "DELIVERED"
    assert [s.get("virtual") for s in order["shipments"]] == [True]


def test_a_merchandiser_reads_orders_with_the_buyers_personal_data_masked(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id = oms.post(order_body([(sku, 1)])).json()["order_id"]
    seen = oms.as_role("merchandiser").call("GET", f"/orders/{order_id}").json()
    assert seen["shipping_address"]["name"] != "Li Lei"
    assert seen["shipping_address"]["name"].startswith("L")
    assert oms.call("GET", f"/orders/{order_id}").json()["shipping_address"]["name"] == "Li Lei"


def test_the_strategy_center_may_hold_an_unknown_sku_for_ops_instead_of_refusing_it(oms, stack):
    known, unknown = new_sku(), new_sku("NEW")
    oms.set_stock(known, 5)
    with review_rules(oms, unknown_sku_action="hold"):
        answer = post_and_hold(oms.without_product_seeding(), stack, order_body([(known, 1), (unknown, 2)]))
        held = oms.order(answer["order_id"])
        assert held["status"] == "ON_HOLD"
        assert [(r["code"], r["message"]) for r in held["hold"]["reasons"]] == [
            ("UNKNOWN_SKU", f"not active products in the product master: {unknown}")
        ]
        assert held["reservations"] == []
        assert oms.stock(known)["reserved"] == 0

        oms.set_stock(unknown, 3)  # ops add it to the master and stock it, then approve
        assert review(oms, answer["order_id"], "approve").status == 200
        assert oms.wait(answer["execution_arn"])["status"] == "SUCCEEDED"
    assert oms.order(answer["order_id"])["status"] == "SHIPPED"
    assert oms.stock(unknown) == {"on_hand": 1, "reserved": 0, "available": 1}
