"""POST /orders/{id}/changes/lines (partial cancellation before shipment), through the real state
machine: the exact refund of a paid order, the reserved units given back, the running execution
shipping what is left (no second execution), the history saying who and why, idempotency by
reference; every line cancelled cancels the order; after shipment 409 AFTER_SHIPMENT."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from functions.aftersales.logic import paid_total
from functions.core import repository
from tests.e2e.stock_support import allocation_rules, assert_conserved, eventually, sync
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def change(oms: Any, order_id: str, lines: dict[str, int], reference: str, actor: str = "ops.li") -> Any:
    return oms.as_role("ops", actor).call(
        "POST",
        f"/orders/{order_id}/changes/lines",
        {
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines.items()],
            "reason": "buyer asked",
            "reference": reference,
        },
    )


def allocated_in_merge_window(oms: Any, body: dict[str, Any]) -> dict[str, Any]:
    """A paid order allocated and waiting in its 合单 window (stock reserved, not shipped yet)."""
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")
    return posted.json()  # type: ignore[no-any-return]


def test_paid_order_lines_lowered_and_removed_refund_exactly_and_ship_what_is_left(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 10)
    oms.set_stock(b, 10)
    body = order_body([(a, 3, "45.00"), (b, 2, "12.50")], shipping="6.00", discount="5.00")  # total 161.00
    with allocation_rules(oms, merge_window_minutes=30):
        posted = allocated_in_merge_window(oms, body)
        order_id = posted["order_id"]

        first = change(oms, order_id, {a: 2}, "chg-a")
        assert first.status == 200, first.body
        # A's share of 161.00 is 135.84 (by value, rounded down); one of its three units: 45.28
        assert (first.json()["refund"], first.json()["total"], first.json()["cancelled"]) == (
            "45.28",
            "161.00",  # a paid order keeps its amounts; the refund is counted apart
            False,
        )
        assert first.json()["released"] == [{"sku": a, "warehouse": "WH-MAIN", "quantity": 1}]
        assert oms.stock(a) == {"on_hand": 10, "reserved": 2, "available": 8}

        repeat = change(oms, order_id, {a: 2}, "chg-a")
        assert (repeat.status, repeat.json()["repeated"], repeat.json()["refund"]) == (200, True, "45.28")
        reused = change(oms, order_id, {a: 1}, "chg-a")
        assert (reused.status, reused.json()["error"]["code"]) == (409, "REFERENCE_REUSED")

        second = change(oms, order_id, {b: 0}, "chg-b", actor="ops.wu")
        assert second.status == 200, second.body
        # what is left paid (115.72) over A 2 x 45 and B 2 x 12.50: B is the last line, 25.16
        assert second.json()["refund"] == "25.16"
        assert second.json()["lines"] == [{"sku": a, "quantity": 2}]
        assert oms.stock(b) == {"on_hand": 10, "reserved": 0, "available": 10}
        execution = oms.wait(posted["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert len(oms.executions_named(order_id)) == 1
    shipped = oms.order(order_id)
    assert shipped["status"] == "SHIPPED"
    assert [(i["sku"], i["quantity"]) for s in shipped["shipments"] for i in s["lines"]] == [(a, 2)]
    assert oms.stock(a) == {"on_hand": 8, "reserved": 0, "available": 8}
    assert oms.stock(b) == {"on_hand": 10, "reserved": 0, "available": 10}
    assert_conserved(a)
    assert_conserved(b)

    events = [e for e in repository.load_aggregate(order_id).events if e.type == "order.lines_changed"]
    assert [(e.actor, e.detail["reference"], e.detail["refund"]) for e in events] == [
        ("user:ops.li", "chg-a", "45.28"),
        ("user:ops.wu", "chg-b", "25.16"),
    ]
    assert events[0].detail["lines"] == [{"sku": a, "from": 3, "to": 2}]
    assert events[0].detail["reason"] == "buyer asked"
    # after-sales may refund only what is left: 161.00 - 45.28 - 25.16
    assert paid_total(repository.get_order(order_id)) == Decimal("90.56")

    late = change(oms, order_id, {a: 1}, "chg-late")
    assert (late.status, late.json()["error"]["code"]) == (409, "AFTER_SHIPMENT")
    assert "after-sales" in late.json()["error"]["message"]


def test_cancelling_every_line_cancels_the_order_and_refunds_all_that_was_paid(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    body = order_body([(a, 2, "30.00"), (b, 1, "9.90")], shipping="8.00")  # total 77.90
    with allocation_rules(oms, merge_window_minutes=30):
        posted = allocated_in_merge_window(oms, body)
        order_id = posted["order_id"]
        assert change(oms, order_id, {a: 1}, "chg-1").json()["refund"] == "33.43"  # A: 66.86 of 77.90; half
        answer = change(oms, order_id, {a: 0, b: 0}, "chg-2", actor="ops.wu")
        assert answer.status == 200, answer.body
        assert answer.json()["cancelled"] is True
        assert answer.json()["refund"] == "44.47"  # what was left: 77.90 - 33.43
        execution = oms.wait(posted["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert len(oms.executions_named(order_id)) == 1
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    for sku in (a, b):
        assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}
        assert_conserved(sku)
    assert paid_total(repository.get_order(order_id)) == Decimal("0.00")
    types = [e.type for e in repository.load_aggregate(order_id).events]
    assert types.index("order.cancelled_by_change") < types.index("order.intercepted")
    late = change(oms, order_id, {a: 0}, "chg-3")
    assert (late.status, late.json()["error"]["code"]) == (409, "ALREADY_FINAL")


def test_an_unpaid_order_owes_the_new_total_and_its_platform_may_change_it(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    body = order_body([(a, 2, "20.00"), (b, 1, "15.00")], shipping="5.00", payment={"status": "unpaid"})
    posted = oms.post(body)
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="awaiting payment")

    other = oms.as_platform("jd").call(
        "POST",
        f"/orders/{order_id}/changes/lines",
        {"lines": [{"sku": b, "quantity": 0}], "reason": "x", "reference": "p-0"},
    )
    assert other.status in (403, 404)
    answer = oms.as_platform("tmall").call(
        "POST",
        f"/orders/{order_id}/changes/lines",
        {"lines": [{"sku": b, "quantity": 0}], "reason": "buyer removed it", "reference": "p-1"},
    )
    assert answer.status == 200, answer.body
    assert (answer.json()["refund"], answer.json()["total"]) == (None, "45.00")  # 2 x 20 + 5 shipping
    assert oms.order(order_id)["amounts"]["subtotal"] == "40.00"
    assert oms.stock(b) == {"on_hand": 5, "reserved": 0, "available": 5}

    assert oms.pay(order_id, "pay-old", "60.00").status != 200  # the old total no longer matches
    assert oms.pay(order_id, "pay-new", "45.00").status == 200
    execution = oms.wait(posted.json()["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert [(i["sku"], i["quantity"]) for s in order["shipments"] for i in s["lines"]] == [(a, 2)]
    events = [e for e in repository.load_aggregate(order_id).events if e.type == "order.lines_changed"]
    assert events[0].actor == "platform:tmall"
    assert_conserved(a)
    assert_conserved(b)


def test_a_backordered_order_that_drops_its_short_line_is_woken_and_ships(oms, stack):
    a, short = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(short, 0)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
        posted = oms.post(order_body([(a, 1), (short, 2)]))
        order_id = posted.json()["order_id"]
        eventually(lambda: repository.get_wait_token(order_id), what="parked on the waitlist")
        answer = change(oms, order_id, {short: 0}, "chg-short")
        assert answer.status == 200, answer.body
        assert answer.json()["execution_told"] is True
        execution = oms.wait(posted.json()["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert len(oms.executions_named(order_id)) == 1
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert [line["sku"] for line in order["lines"]] == [a]
    assert repository.waitlist(short) == []
    assert sync(oms, short, 3).status == 201  # a later restock has nobody of this order to wake
    assert oms.stock(short) == {"on_hand": 3, "reserved": 0, "available": 3}


def test_bad_requests_name_the_field_and_change_nothing(oms, stack):
    a = new_sku()
    oms.set_stock(a, 5)
    with allocation_rules(oms, merge_window_minutes=30):
        posted = allocated_in_merge_window(oms, order_body([(a, 2)]))
        order_id = posted["order_id"]
        unknown = change(oms, order_id, {"NOPE-1": 0}, "bad-1")
        assert (unknown.status, unknown.json()["error"]["code"]) == (422, "UNKNOWN_LINE")
        assert unknown.json()["error"]["fields"][0]["field"] == "lines[0].sku"
        up = change(oms, order_id, {a: 3}, "bad-2")
        assert (up.status, up.json()["error"]["code"]) == (409, "PAID_ORDER_INCREASE")
        same = change(oms, order_id, {a: 2}, "bad-3")
        assert (same.status, same.json()["error"]["code"]) == (422, "NOTHING_TO_CHANGE")
        assert oms.order(order_id)["version"] == repository.get_order(order_id).version
        assert oms.stock(a) == {"on_hand": 5, "reserved": 2, "available": 3}
        oms.wait(posted["execution_arn"])
    assert repository.get_order(order_id).changes == []


# ---------------------------------------------------------------- more units: quantity up, a line added


def unpaid_awaiting_payment(oms: Any, body: dict[str, Any]) -> dict[str, Any]:
    posted = oms.post(body | {"payment": {"status": "unpaid"}})
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="awaiting payment")
    return posted.json()  # type: ignore[no-any-return]


def add_and_raise(oms: Any, order_id: str, lines: list[dict[str, Any]], reference: str) -> Any:
    return oms.as_role("ops", "ops.li").call(
        "POST",
        f"/orders/{order_id}/changes/lines",
        {"lines": lines, "reason": "buyer wants more", "reference": reference},
    )


def test_raising_a_quantity_and_adding_a_line_reserve_more_and_ship_it_all(oms, stack):
    a, c = new_sku(), new_sku()
    oms.set_stock(a, 3)
    oms.set_stock(c, 4, warehouse="WH-EAST")  # only the other warehouse has the new line's SKU
    posted = unpaid_awaiting_payment(oms, order_body([(a, 1, "100.00")], shipping="10.00"))
    order_id = posted["order_id"]

    answer = add_and_raise(
        oms, order_id, [{"sku": a, "quantity": 2}, {"sku": c, "quantity": 3, "unit_price": "25.50"}], "more-1"
    )
    assert answer.status == 200, answer.body
    body = answer.json()
    assert (body["total"], body["refund"], body["held"]) == ("286.50", None, False)  # 200 + 76.50 + 10
    assert sorted((r["sku"], r["warehouse"], r["quantity"]) for r in body["reserved"]) == sorted(
        [(a, "WH-MAIN", 1), (c, "WH-EAST", 3)]
    )
    assert oms.stock(a) == {"on_hand": 3, "reserved": 2, "available": 1}
    assert oms.stock(c, "WH-EAST") == {"on_hand": 4, "reserved": 3, "available": 1}
    order = oms.order(order_id)
    assert order["allocation"]["warehouses"] == ["WH-EAST", "WH-MAIN"]
    assert order["allocation"]["split"] is True
    assert (
        add_and_raise(
            oms,
            order_id,
            [{"sku": a, "quantity": 2}, {"sku": c, "quantity": 3, "unit_price": "25.50"}],
            "more-1",
        ).json()["repeated"]
        is True
    )
    assert oms.stock(a)["reserved"] == 2

    assert oms.pay(order_id, "pay-more", "286.50").status == 200
    execution = oms.wait(posted["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert len(oms.executions_named(order_id)) == 1
    shipped = oms.order(order_id)
    assert shipped["status"] == "SHIPPED"
    assert sorted(
        (s["warehouse"], i["sku"], i["quantity"]) for s in shipped["shipments"] for i in s["lines"]
    ) == sorted([("WH-MAIN", a, 2), ("WH-EAST", c, 3)])
    assert oms.stock(a) == {"on_hand": 1, "reserved": 0, "available": 1}
    assert oms.stock(c, "WH-EAST") == {"on_hand": 1, "reserved": 0, "available": 1}
    assert_conserved(a)
    assert_conserved(c)
    events = [e for e in repository.load_aggregate(order_id).events if e.type == "order.lines_changed"]
    assert events[0].actor == "user:ops.li"
    assert events[0].detail["lines"] == [{"sku": a, "from": 1, "to": 2}, {"sku": c, "from": 0, "to": 3}]


def test_more_units_than_the_stock_has_are_refused_naming_the_sku(oms, stack):
    a = new_sku()
    oms.set_stock(a, 3)
    posted = unpaid_awaiting_payment(oms, order_body([(a, 2, "10.00")]))
    order_id = posted["order_id"]
    version = repository.get_order(order_id).version

    short = add_and_raise(oms, order_id, [{"sku": a, "quantity": 4}], "too-many")
    assert (short.status, short.json()["error"]["code"]) == (409, "OUT_OF_STOCK")
    assert a in short.json()["error"]["message"]
    assert repository.get_order(order_id).version == version  # nothing written
    assert oms.stock(a) == {"on_hand": 3, "reserved": 2, "available": 1}
    unknown = add_and_raise(
        oms, order_id, [{"sku": "NOT-IN-MASTER-1", "quantity": 1, "unit_price": "1.00"}], "x-1"
    )
    assert (unknown.status, unknown.json()["error"]["code"]) == (422, "UNKNOWN_LINE")
    b = new_sku()
    oms.set_stock(b, 1)
    unpriced = add_and_raise(oms, order_id, [{"sku": b, "quantity": 1}], "x-2")
    assert (unpriced.status, unpriced.json()["error"]["code"]) == (422, "UNIT_PRICE")
    assert unpriced.json()["error"]["fields"][0]["field"] == "lines[0].unit_price"
    assert_conserved(a)


def test_more_units_that_make_the_order_high_value_send_it_to_review(oms, stack):
    a = new_sku()
    oms.set_stock(a, 5)
    posted = unpaid_awaiting_payment(oms, order_body([(a, 1, "3000.00")]))
    order_id = posted["order_id"]

    answer = add_and_raise(oms, order_id, [{"sku": a, "quantity": 2}], "big-1")
    assert answer.status == 200, answer.body
    assert answer.json()["held"] is True
    assert [r["code"] for r in answer.json()["review"]["reasons"]] == ["HIGH_VALUE"]
    eventually(lambda: oms.order(order_id)["status"] == "ON_HOLD", what="held")
    assert oms.stock(a) == {"on_hand": 5, "reserved": 2, "available": 3}  # the stock stays reserved
    assert len(oms.executions_named(order_id)) == 1
