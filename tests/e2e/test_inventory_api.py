"""PUT /inventory/{sku} (stock sync from a WMS/ERP, idempotent by sync id) and GET /inventory/{sku}
(available to promise per warehouse), with every change in the ledger."""

from __future__ import annotations

import pytest

from functions.allocate.service import allocate_order, release_order
from functions.core import clock, repository
from functions.review.service import review_order
from tests.e2e.stock_support import allocation_rules, assert_conserved, sync
from tests.factories import new_sku, order_body, stored_order

pytestmark = pytest.mark.e2e


def test_first_sync_creates_stock_and_a_ledger_entry(oms):
    sku = new_sku()
    answer = sync(oms, sku, 12, sync_id="wms-1")
    assert answer.status == 201, answer.body
    body = answer.json()
    assert body["duplicate"] is False
    assert [(m["kind"], m["on_hand_delta"]) for m in body["movements"]] == [("initial", 12)]
    assert body["inventory"]["warehouses"] == [
        {"warehouse": "WH-MAIN", "on_hand": 12, "reserved": 0, "available": 12, "shards": 1}
    ]

    sync(oms, sku, 7, warehouse="WH-EAST")
    inventory = oms.call("GET", f"/inventory/{sku}")
    assert inventory.status == 200
    assert inventory.json() == {
        "sku": sku,
        "available_to_promise": 19,
        "warehouses": [
            {"warehouse": "WH-EAST", "on_hand": 7, "reserved": 0, "available": 7, "shards": 1},
            {"warehouse": "WH-MAIN", "on_hand": 12, "reserved": 0, "available": 12, "shards": 1},
        ],
        "backorders": 0,
    }


def test_a_resent_sync_is_applied_once(oms):
    sku = new_sku()
    assert sync(oms, sku, 10, sync_id="wms-7").status == 201
    assert sync(oms, sku, 15, sync_id="wms-8").status == 201
    again = sync(oms, sku, 10, sync_id="wms-7")  # the first count, delivered late a second time

    assert again.status == 200
    assert again.json()["duplicate"] is True
    assert again.json()["movements"] == []
    assert oms.stock(sku) == {"on_hand": 15, "reserved": 0, "available": 15}
    kinds = [(m.kind, m.on_hand_delta) for m in repository.stock_ledger(sku)]
    assert sorted(kinds) == [("initial", 10), ("restock", 5)]


def test_same_sync_id_with_another_count_is_a_conflict(oms):
    sku = new_sku()
    sync(oms, sku, 10, sync_id="wms-9")
    answer = sync(oms, sku, 11, sync_id="wms-9")
    assert answer.status == 409
    assert answer.json()["error"]["code"] == "CONFLICT"
    assert "wms-9" in answer.json()["error"]["message"]
    assert oms.stock(sku)["on_hand"] == 10


def test_a_count_below_what_orders_hold_is_refused(oms):
    sku = new_sku()
    sync(oms, sku, 10)
    order, event = stored_order(order_body([(sku, 6)]), clock.now())
    assert repository.create_order(order, event)
    review_order(order.order_id, None)
    assert allocate_order(order.order_id, None).outcome == "allocated"

    refused = sync(oms, sku, 5, sync_id="count-low")
    assert refused.status == 409
    assert "below the 6 units already reserved" in refused.json()["error"]["message"]
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 6, "available": 4}
    assert sync(oms, sku, 5, sync_id="count-low").status == 409  # the refused id was not used up

    lowered = sync(oms, sku, 6, reason="adjust")
    assert lowered.status == 201
    assert [(m["kind"], m["on_hand_delta"]) for m in lowered.json()["movements"]] == [("adjust", -4)]
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 6, "available": 0}
    assert_conserved(sku)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warehouse": "WH-MAIN", "on_hand": 1}, "sync_id"),
        ({"sync_id": "s-1", "on_hand": 1}, "warehouse"),
        ({"sync_id": "s-1", "warehouse": "WH-MAIN", "on_hand": -1}, "on_hand"),
        ({"sync_id": "s-1", "warehouse": "WH MAIN", "on_hand": 1}, "warehouse"),
        ({"sync_id": "s-1", "warehouse": "WH-MAIN", "on_hand": 1, "reason": "gift"}, "reason"),
        ({"sync_id": "s-1", "warehouse": "WH-MAIN", "on_hand": 1, "delta": 3}, "delta"),
    ],
)
def test_bad_sync_bodies_are_422_naming_the_field_and_write_nothing(oms, body, field):
    sku = new_sku()
    answer = oms.call("PUT", f"/inventory/{sku}", body)
    assert answer.status == 422
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in {str(part) for error in answer.json()["error"]["fields"] for part in error["loc"]}
    assert repository.get_stock(sku) == []


def test_bad_sku_in_the_path_is_422(oms):
    answer = oms.call("GET", "/inventory/no%20spaces")
    assert answer.status == 422
    assert answer.json()["error"]["fields"][0]["loc"] == ["path", "sku"]


def test_unknown_sku_has_nothing_to_promise(oms):
    answer = oms.call("GET", f"/inventory/{new_sku()}")
    assert answer.status == 200
    assert answer.json()["available_to_promise"] == 0
    assert answer.json()["warehouses"] == []


def test_ledger_accounts_for_every_movement_and_release_is_idempotent(oms):
    sku = new_sku()
    sync(oms, sku, 10, sync_id="count-1")
    ids = []
    for quantity in (3, 2):
        order, event = stored_order(order_body([(sku, quantity)]), clock.now())
        assert repository.create_order(order, event)
        review_order(order.order_id, None)
        allocate_order(order.order_id, None)
        ids.append(order.order_id)
    first = release_order(ids[0], "buyer cancelled", "test")
    again = release_order(ids[0], "buyer cancelled", "test")
    assert [r.quantity for r in first.released] == [3]
    assert again.released == []
    assert again.status == "CANCELLED"
    sync(oms, sku, 14, sync_id="receipt-2")

    ledger = oms.call("GET", f"/inventory/{sku}/ledger")
    assert ledger.status == 200
    body = ledger.json()
    assert body["consistent"] is True
    assert sorted(
        (m["kind"], m["ref"], m["on_hand_delta"], m["reserved_delta"]) for m in body["movements"]
    ) == sorted(
        [
            ("initial", body["movements"][0]["ref"], 10, 0),
            ("reserve", ids[0], 0, 3),
            ("reserve", ids[1], 0, 2),
            ("release", ids[0], 0, -3),
            ("restock", body["movements"][-1]["ref"], 4, 0),
        ]
    )
    (counter,) = body["counters"]
    assert counter["on_hand"] == counter["ledger_on_hand"] == 14
    assert counter["reserved"] == counter["ledger_reserved"] == counter["open_reservations"] == 2
    assert counter["by_kind"]["initial"] + counter["by_kind"]["restock"] == 14


def test_hot_sku_stock_is_spread_over_shards(oms, stack):
    sku = new_sku("HOT")
    with allocation_rules(oms, hot_sku_shards={sku: 4}):
        answer = sync(oms, sku, 10)
    assert answer.status == 201
    assert sorted(m["on_hand_delta"] for m in answer.json()["movements"]) == [2, 2, 3, 3]
    assert answer.json()["inventory"]["warehouses"] == [
        {"warehouse": "WH-MAIN", "on_hand": 10, "reserved": 0, "available": 10, "shards": 4}
    ]
    shards = repository.get_stock_shards(sku)
    assert [(s.shard, s.on_hand) for s in shards] == [(0, 3), (1, 3), (2, 2), (3, 2)]
    assert shards[0].active == 4
    assert_conserved(sku)
