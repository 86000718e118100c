"""The sourcing engine through the real state machine: split, merge (合单), backorder, virtual outbound
(虚拟出库) and region-aware warehouse choice. Stock is conserved after each (ledger == counters)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from functions.allocate.service import allocate_order, park_backorder, release_order
from functions.core import clock, repository
from functions.core.errors import StockAvailableError
from functions.review.service import review_order
from tests.e2e.stock_support import allocation_rules, assert_conserved, eventually, sync
from tests.factories import address, line, new_sku, order_body, stored_order
from tests.review_helpers import intercept

pytestmark = pytest.mark.e2e


def shipped_lines(order: dict) -> list[tuple[str, str, int]]:
    return sorted(
        (item["sku"], shipment["warehouse"], item["quantity"])
        for shipment in order["shipments"]
        for item in shipment["lines"]
    )


# ---------------------------------------------------------------- split


def test_no_single_warehouse_has_everything_so_the_order_ships_in_two_parts(oms):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 2)
    oms.set_stock(b, 4, warehouse="WH-EAST")  # b: 2 + 4 = 6 across two warehouses, 5 asked
    order, execution = oms.run(order_body([(a, 3), (b, 5)]))

    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert order["allocation"]["split"] is True
    assert order["allocation"]["warehouses"] == ["WH-EAST", "WH-MAIN"]
    # fewest shipments: two warehouses; the line too big for either is split between them
    assert shipped_lines(order) == sorted([(a, "WH-MAIN", 3), (b, "WH-MAIN", 2), (b, "WH-EAST", 3)])
    assert len(order["shipments"]) == 2
    assert len({s["tracking_number"] for s in order["shipments"]}) == 2
    assert oms.stock(b) == {"on_hand": 0, "reserved": 0, "available": 0}
    assert oms.stock(b, "WH-EAST") == {"on_hand": 1, "reserved": 0, "available": 1}
    assert_conserved(a)
    assert_conserved(b)


def test_with_splitting_off_the_order_waits_for_one_warehouse_to_have_it_all(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5, warehouse="WH-EAST")
    with allocation_rules(oms, allow_split=False, backorder_retry_minutes=30):
        posted = oms.post(order_body([(a, 1), (b, 1)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.waitlist(b), what="the order parked on the waitlist")
        waiting = oms.order(order_id)
        assert waiting["status"] == "BACKORDERED"
        assert waiting["allocation"]["reason"]["code"] == "SPLIT_NOT_ALLOWED"
        assert oms.stock(a)["reserved"] == 0  # nothing held while waiting

        sync(oms, b, 3)  # now WH-MAIN has both
        execution = oms.wait(posted.json()["execution_arn"])

    order = oms.order(order_id)
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert order["allocation"]["split"] is False
    assert shipped_lines(order) == sorted([(a, "WH-MAIN", 1), (b, "WH-MAIN", 1)])
    assert oms.stock(b, "WH-EAST") == {"on_hand": 5, "reserved": 0, "available": 5}


def test_the_warehouse_serving_the_shipping_region_is_chosen(oms, stack):
    sku = new_sku()
    for warehouse in ("WH-MAIN", "WH-EAST", "WH-WEST"):
        oms.set_stock(sku, 10, warehouse=warehouse)
    regions = {"WH-EAST": ["SH", "ZJ"], "WH-WEST": ["SC"]}
    with allocation_rules(oms, warehouse_regions=regions):
        shanghai, _ = oms.run(order_body([(sku, 1)], shipping_address=address(region="SH")))
        chengdu, _ = oms.run(order_body([(sku, 1)], shipping_address=address(city="Chengdu", region="SC")))
        beijing, _ = oms.run(order_body([(sku, 1)], shipping_address=address(city="Beijing", region="BJ")))
    assert [o["shipments"][0]["warehouse"] for o in (shanghai, chengdu, beijing)] == [
        "WH-EAST",
        "WH-WEST",
        "WH-MAIN",  # no regional warehouse: the priority list decides
    ]


# ---------------------------------------------------------------- backorder


def test_backordered_order_ships_when_a_restock_arrives(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 1)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
        posted = oms.post(order_body([(sku, 3)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.waitlist(sku), what="the order parked on the waitlist")
        waiting = oms.order(order_id)
        assert waiting["status"] == "BACKORDERED"
        assert waiting["allocation"]["reason"] == {
            "code": "BACKORDERED",
            "message": f"waiting for stock: {sku} (need 3, available 1)",
        }
        assert waiting["allocation"]["waitlisted"] == [sku]
        assert oms.call("GET", f"/inventory/{sku}").json()["backorders"] == 1
        before = stack.clock.now()

        restock = sync(oms, sku, 4)
        assert restock.json()["woken"] == 1
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    # woken by the restock, not by the 60-minute retry interval (the payment sweep ticks each minute)
    assert stack.clock.now() - before < timedelta(minutes=60)
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["allocation"]["attempts"] == 2
    assert oms.states_entered(order["execution_arn"]) == [
        # the fast path (Express) hands the backorder over...
        "Review",
        "ReviewDecision",
        "Allocate",
        "AllocationOutcome",
        "WaitForStock",
        "HandOver",
        "HandedOver",
        # ...and the waiting workflow (Standard) owns the wait
        "Resume",
        "AwaitStock",
        "Allocate",
        "AllocationOutcome",
        "PaymentGate",
        "Ship",
        "Fulfilled",
    ]
    events = [e.type for e in repository.load_aggregate(order_id).events]
    assert events == [
        "order.received",
        "review.approve",
        "stock.backordered",
        "stock.reserved",
        "order.shipped",
    ]
    assert repository.waitlist(sku) == []
    assert oms.stock(sku) == {"on_hand": 1, "reserved": 0, "available": 1}
    assert_conserved(sku)


def test_backordered_order_retries_after_the_interval_on_the_stack_clock(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=45):
        posted = oms.post(order_body([(sku, 2)]))
        eventually(lambda: repository.waitlist(sku), what="the order parked on the waitlist")
        before = stack.clock.now()
        oms.set_stock(sku, 2)  # a count that wakes nobody (not through the inventory API)
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert timedelta(minutes=45) <= stack.clock.now() - before < timedelta(minutes=47)
    order = oms.order(posted.json()["order_id"])
    assert order["status"] == "SHIPPED"
    timed_out = [e for e in stack.execution_history(order["execution_arn"]) if e["type"] == "TaskTimedOut"]
    assert len(timed_out) == 1


def test_backorder_is_bounded_and_ends_rejected_with_the_reason(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 1)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=25, backorder_max_hours=1):
        order, execution = oms.run(order_body([(sku, 2)]))

    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "BACKORDER_EXPIRED"
    assert f"{sku} (need 2, available 1)" in order["rejection"]["message"]
    assert order["allocation"]["attempts"] == 4  # at 0, 25 and 50 minutes, then at the 60-minute deadline
    assert oms.states_entered(order["execution_arn"]).count("AwaitStock") == 3
    assert oms.states_entered(order["execution_arn"])[-1] == "Rejected"
    assert repository.waitlist(sku) == []
    assert oms.stock(sku) == {"on_hand": 1, "reserved": 0, "available": 1}


def test_stock_that_arrives_before_the_order_parks_sends_it_straight_back_to_allocate(oms):
    """A restock between the failed attempt and the parking could not wake the order (no token yet):
    parking re-checks and refuses to wait (the state machine catches StockAvailableError -> Allocate)."""
    sku = new_sku()
    oms.set_stock(sku, 0)
    order, event = stored_order(order_body([(sku, 2)]), clock.now())
    assert repository.create_order(order, event)
    review_order(order.order_id, None)
    with allocation_rules(oms, out_of_stock="backorder"):
        assert allocate_order(order.order_id, None).outcome == "backordered"
        assert park_backorder(order.order_id, "token-1") == [sku]  # nothing arrived: it waits
        oms.set_stock(sku, 2)  # arrives without waking anyone
        with pytest.raises(StockAvailableError):
            park_backorder(order.order_id, "token-2")
        assert allocate_order(order.order_id, None).outcome == "allocated"
    assert repository.get_wait_token(order.order_id) is None


def test_cancelling_a_backordered_order_ends_its_wait_at_once(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
        posted = oms.post(order_body([(sku, 1)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.get_wait_token(order_id), what="the order waiting for stock")
        before = stack.clock.now()
        assert release_order(order_id, "buyer cancelled", "user:cs.zhang").status == "CANCELLED"
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert stack.clock.now() - before < timedelta(minutes=60)  # not by the retry interval
    assert oms.states_entered(posted.json()["execution_arn"])[-3:] == [
        "Allocate",
        "AllocationOutcome",
        "Cancelled",
    ]
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert repository.get_wait_token(order_id) is None


def test_a_backordered_order_can_be_intercepted_while_it_waits(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
        posted = oms.post(order_body([(sku, 1)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.get_wait_token(order_id), what="the order waiting for stock")
        answer = intercept(oms, order_id, "cancel", "buyer changed their mind")
        assert answer.status == 202, answer.body
        assert answer.json()["status"] == "BACKORDERED"
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["interception"]["stage"] == "allocate"
    assert "AwaitStock" in oms.states_entered(order["execution_arn"])
    assert oms.states_entered(order["execution_arn"])[-2:] == ["InterceptionOutcome", "Cancelled"]


def test_an_order_needing_more_stock_movements_than_a_transaction_holds_is_refused_with_the_reason(oms):
    skus = [new_sku() for _ in range(34)]  # 2 + 3 x 34 = 104 items: over DynamoDB's 100
    for sku in skus:
        oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1) for sku in skus]))
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "ORDER_TOO_LARGE"
    assert "34 physical lines" in order["rejection"]["message"]
    assert all(oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5} for sku in skus)


def test_out_of_stock_under_the_reject_rule_is_rejected_at_once(oms):
    sku = new_sku()
    oms.set_stock(sku, 1)
    order, _ = oms.run(order_body([(sku, 2)]))
    assert order["status"] == "REJECTED"
    assert order["rejection"] == {"code": "OUT_OF_STOCK", "message": f"{sku} (need 2, available 1)"}
    assert "AwaitStock" not in oms.states_entered(order["execution_arn"])


# ---------------------------------------------------------------- 合单


def test_orders_of_one_buyer_to_one_address_within_the_window_ship_together(oms, stack):
    a, b, c = new_sku(), new_sku(), new_sku()
    for sku in (a, b, c):
        oms.set_stock(sku, 10)
    home = address(line1="8 Huaihai Rd")
    with allocation_rules(oms, merge_window_minutes=30):
        first = oms.post(order_body([(a, 1)], buyer={"id": "buyer-merge"}, shipping_address=home))
        first_id = first.json()["order_id"]
        eventually(lambda: oms.order(first_id)["status"] == "ALLOCATED", what="the first order allocated")
        second = oms.post(order_body([(b, 2)], buyer={"id": "buyer-merge"}, shipping_address=home))
        elsewhere = oms.post(
            order_body([(c, 1)], buyer={"id": "buyer-merge"}, shipping_address=address(line1="9 Other Rd"))
        )
        for posted in (second, elsewhere):  # allocated (and merged) while the first waits in its window
            order_id = posted.json()["order_id"]
            eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")  # noqa: B023
        executions = [oms.wait(p.json()["execution_arn"]) for p in (first, second, elsewhere)]

    assert [e["status"] for e in executions] == ["SUCCEEDED"] * 3
    leader, member, alone = (oms.order(p.json()["order_id"]) for p in (first, second, elsewhere))
    assert leader["status"] == member["status"] == alone["status"] == "SHIPPED"
    both = [first_id, member["order_id"]]
    assert leader["merge"]["group"] == member["merge"]["group"] == first_id
    assert leader["merge"]["role"] == "leader"
    assert member["merge"]["role"] == "member"
    assert leader["merge"]["orders"] == member["merge"]["orders"] == both
    # one parcel, seen from each order with its own lines
    (parcel_a,) = leader["shipments"]
    (parcel_b,) = member["shipments"]
    assert parcel_a["shipment_id"] == parcel_b["shipment_id"]
    assert parcel_a["tracking_number"] == parcel_b["tracking_number"]
    assert parcel_a["order_ids"] == parcel_b["order_ids"] == sorted(both)
    assert [item["sku"] for item in parcel_a["lines"]] == [a]
    assert [item["sku"] for item in parcel_b["lines"]] == [b]
    # the other address ships on its own
    assert alone["merge"]["role"] == "leader"
    assert alone["merge"]["orders"] == [alone["order_id"]]
    assert "order_ids" not in alone["shipments"][0]
    # the merge is in the leader's history too
    leader_events = repository.load_aggregate(first_id).events
    merged = [e for e in leader_events if e.type == "order.merged"]
    assert [e.detail["joined"] for e in merged] == [member["order_id"]]
    assert "MergeWindow" in oms.states_entered(leader["execution_arn"])
    for sku, left in ((a, 9), (b, 8), (c, 9)):
        assert oms.stock(sku) == {"on_hand": left, "reserved": 0, "available": left}
        assert_conserved(sku)


def test_merged_orders_for_the_same_sku_move_its_stock_once_with_a_ledger_entry_each(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    with allocation_rules(oms, merge_window_minutes=30):
        first = oms.post(order_body([(sku, 2)], buyer={"id": "buyer-same-sku"}))
        eventually(lambda: oms.order(first.json()["order_id"])["status"] == "ALLOCATED", what="allocated")
        second = oms.post(order_body([(sku, 3)], buyer={"id": "buyer-same-sku"}))
        eventually(lambda: oms.order(second.json()["order_id"])["status"] == "ALLOCATED", what="allocated")
        assert oms.stock(sku) == {"on_hand": 10, "reserved": 5, "available": 5}
        executions = [oms.wait(p.json()["execution_arn"]) for p in (first, second)]

    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    a, b = (oms.order(p.json()["order_id"]) for p in (first, second))
    assert a["status"] == b["status"] == "SHIPPED"
    assert a["shipments"][0]["shipment_id"] == b["shipments"][0]["shipment_id"]
    assert [line["quantity"] for line in a["shipments"][0]["lines"]] == [2]
    assert [line["quantity"] for line in b["shipments"][0]["lines"]] == [3]
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}
    ships = sorted((m.ref, m.on_hand_delta) for m in repository.stock_ledger(sku) if m.kind == "ship")
    assert ships == sorted([(a["order_id"], -2), (b["order_id"], -3)])
    assert_conserved(sku)


def test_an_order_after_the_window_closed_ships_alone(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    with allocation_rules(oms, merge_window_minutes=10):
        first, _ = oms.run(order_body([(a, 1)], buyer={"id": "buyer-late"}))
        second, _ = oms.run(order_body([(b, 1)], buyer={"id": "buyer-late"}))
    assert first["merge"]["orders"] == [first["order_id"]]
    assert second["merge"]["orders"] == [second["order_id"]]
    assert first["shipments"][0]["shipment_id"] != second["shipments"][0]["shipment_id"]


# ---------------------------------------------------------------- 虚拟出库


def test_virtual_lines_ship_at_once_with_no_warehouse_and_no_stock(oms):
    gift_card = new_sku("GIFT")
    order, execution = oms.run(order_body([line(gift_card, 2, "50.00", virtual=True)]))

    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "DELIVERED"  # a virtual shipment counts as delivered when it is made
    assert order["reservations"] == []
    (shipment,) = order["shipments"]
    assert shipment["virtual"] is True
    assert shipment["warehouse"] == shipment["carrier"] == "VIRTUAL"
    assert shipment["lines"] == [{"sku": gift_card, "warehouse": "VIRTUAL", "quantity": 2}]
    assert shipment["tracking_number"].startswith("V")
    assert repository.get_stock(gift_card) == []
    assert repository.stock_ledger(gift_card) == []


def test_mixed_order_ships_goods_from_stock_and_the_service_virtually(oms):
    goods, service = new_sku(), new_sku("INSTALL")
    oms.set_stock(goods, 3)
    order, _ = oms.run(order_body([(goods, 1), line(service, 1, "99.00", virtual=True)]))

    assert order["status"] == "SHIPPED"
    by_kind = {bool(s.get("virtual")): s for s in order["shipments"]}
    assert by_kind[False]["warehouse"] == "WH-MAIN"
    assert by_kind[False]["lines"] == [{"sku": goods, "warehouse": "WH-MAIN", "quantity": 1}]
    assert by_kind[True]["lines"] == [{"sku": service, "warehouse": "VIRTUAL", "quantity": 1}]
    assert sorted(order["shipment_ids"]) == sorted(s["shipment_id"] for s in order["shipments"])
    assert oms.stock(goods) == {"on_hand": 2, "reserved": 0, "available": 2}
    assert repository.get_stock(service) == []
    assert_conserved(goods)


# ---------------------------------------------------------------- backorder meets payment


def test_an_unpaid_order_still_waiting_for_stock_is_cancelled_at_its_pay_deadline(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=120):
        posted = oms.post(order_body([(sku, 1)], payment={"status": "unpaid"}))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.get_wait_token(order_id), what="the order waiting for stock")
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(posted.json()["execution_arn"])[-2:] == ["AwaitStock", "CancelledUnpaid"]
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancellation"]["code"] == "PAYMENT_TIMEOUT"
    assert oms.stock(sku) == {"on_hand": 0, "reserved": 0, "available": 0}


def test_a_payment_while_backordered_is_kept_and_the_order_ships_after_the_restock(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=120):
        body = order_body([(sku, 2, "10.00")], payment={"status": "unpaid"})
        posted = oms.post(body)
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.get_wait_token(order_id), what="the order waiting for stock")
        paid = oms.call(
            "POST",
            f"/orders/{order_id}/payment",
            {"payment_id": "PAY-BACKORDER-1", "amount": "20.00", "paid_at": stack.clock.now().isoformat()},
        )
        assert paid.status == 200, paid.body
        assert sync(oms, sku, 5).json()["woken"] == 1
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["payment_received"]["payment_id"] == "PAY-BACKORDER-1"
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
