"""Shipping after the Ship stage, on the virtual clock: carrier selection, the signed tracking webhook
(idempotent, out-of-order tolerant), delivery in steps, the delay check, damage -> reship with stock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from functions.core import repository
from functions.core.errors import TransientError
from tests.e2e.aftersales_support import confirm_refund, order_events, wait_case
from tests.e2e.stock_support import allocation_rules, assert_conserved, eventually
from tests.factories import address, line, new_sku, order_body

pytestmark = pytest.mark.e2e


@contextmanager
def carrier_rules(oms: Any, **fields: Any) -> Iterator[dict[str, Any]]:
    """Store a rule set whose carriers section has `fields` for the block; restore the old one after."""
    before = oms.call("GET", "/rules").json()
    document = {**before, "carriers": {**before["carriers"], **fields}, "comment": "shipping test"}
    stored = oms.call("PUT", "/rules", document)
    assert stored.status == 200, stored.body
    try:
        yield stored.json()
    finally:
        latest = oms.call("GET", "/rules").json()
        restored = oms.call("PUT", "/rules", {**before, "version": latest["version"]})
        assert restored.status == 200, restored.body


def at(stack: Any, hours: float = 0) -> str:
    return (stack.clock.now() + timedelta(hours=hours)).isoformat()


def events_of(order_id: str) -> list[Any]:
    return repository.load_aggregate(order_id).events


def warehouse_of(order: dict[str, Any], warehouse: str) -> dict[str, Any]:
    return next(s for s in order["shipments"] if s["warehouse"] == warehouse)


def ship_two_warehouses(oms: Any) -> dict[str, Any]:
    near, far = new_sku(), new_sku()
    oms.set_stock(near, 4)
    oms.set_stock(far, 1)  # too little in the preferred warehouse ...
    oms.set_stock(far, 6, warehouse="WH-EAST")  # ... so this line ships from the east
    order, _ = oms.run(order_body([(near, 2), (far, 3)]))
    assert order["status"] == "SHIPPED"
    return order


# ---------------------------------------------------------------- delivery in steps


def test_order_from_two_warehouses_is_delivered_in_two_steps(oms, stack):
    order = ship_two_warehouses(oms)
    order_id = order["order_id"]
    main, east = warehouse_of(order, "WH-MAIN"), warehouse_of(order, "WH-EAST")
    assert order["delivery"] == {
        "shipments": {main["shipment_id"]: "created", east["shipment_id"]: "created"},
        "delivered": 0,
        "total": 2,
        "state": "pending",
        "delivered_at": None,
    }

    for hours, status in ((1, "picked"), (2, "shipped"), (5, "in_transit"), (20, "out_for_delivery")):
        answer = oms.track(main, status, f"sf-{uuid.uuid4().hex[:8]}", at(stack, -30 + hours))
        assert answer.status == 200, answer.body
        assert answer.json()["outcome"] == "applied"
    first = oms.track(main, "delivered", "main-delivered", at(stack, -6))
    assert first.json()["orders"] == {order_id: "SHIPPED"}

    partial = oms.order(order_id)
    assert partial["status"] == "SHIPPED"
    assert partial["delivery"]["state"] == "partial"
    assert (partial["delivery"]["delivered"], partial["delivery"]["total"]) == (1, 2)
    assert partial["delivery"]["shipments"] == {
        main["shipment_id"]: "delivered",
        east["shipment_id"]: "created",
    }
    types = [e.type for e in events_of(order_id)]
    assert types[-6:] == [
        "shipment.picked",
        "shipment.shipped",
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "shipment.delivered",
        "order.partially_delivered",
    ]
    delivered_event = events_of(order_id)[-2]
    assert delivered_event.detail == {
        "shipment_id": main["shipment_id"],
        "carrier": main["carrier"],
        "tracking_number": main["tracking_number"],
        "status": "delivered",
        "carrier_event_id": "main-delivered",
        "occurred_at": datetime.fromisoformat(at(stack, -6)).isoformat(),
    }
    assert delivered_event.actor == f"carrier:{main['carrier']}"

    second = oms.track(east, "delivered", "east-delivered", at(stack, -1))
    assert second.json()["orders"] == {order_id: "DELIVERED"}
    done = oms.order(order_id)
    assert done["status"] == "DELIVERED"
    assert done["delivery"]["state"] == "delivered"
    assert done["delivery"]["delivered_at"] is not None
    last_two = events_of(order_id)[-2:]
    assert [(e.type, e.from_status, e.to_status) for e in last_two] == [
        ("shipment.delivered", "SHIPPED", "SHIPPED"),
        ("order.delivered", "SHIPPED", "DELIVERED"),
    ]
    assert [e.seq for e in events_of(order_id)] == list(range(1, done["version"] + 1))
    assert stack.metrics.summary()["counters"]["OrdersDelivered"]["total"] >= 1


# ---------------------------------------------------------------- duplicates and out-of-order events


def test_duplicate_and_out_of_order_events_change_nothing_twice(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 3)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    order_id = order["order_id"]

    assert oms.track(parcel, "in_transit", "e-2", at(stack, -10)).json()["outcome"] == "applied"
    version = oms.order(order_id)["version"]

    older = oms.track(parcel, "picked", "e-1", at(stack, -12))  # late, and behind in_transit
    assert older.status == 200
    assert (older.json()["outcome"], older.json()["status"]) == ("recorded", "in_transit")
    again = oms.track(parcel, "in_transit", "e-2", at(stack, -10))  # the carrier resends
    assert again.json()["outcome"] == "duplicate"
    assert oms.order(order_id)["version"] == version

    with ThreadPoolExecutor(max_workers=4) as pool:  # the same delivery, resent four times at once
        answers = list(pool.map(lambda _: oms.track(parcel, "delivered", "e-4", at(stack, -2)), range(4)))
    assert sorted(a.json()["outcome"] for a in answers) == ["applied", "duplicate", "duplicate", "duplicate"]
    delivered = oms.order(order_id)
    assert delivered["status"] == "DELIVERED"
    history = events_of(order_id)

    late = oms.track(parcel, "out_for_delivery", "e-3", at(stack, -3))  # arrives after delivered
    assert late.json()["outcome"] == "recorded"
    assert oms.track(parcel, "delivered", "e-4", at(stack, -2)).json()["outcome"] == "duplicate"
    assert oms.order(order_id)["version"] == delivered["version"]
    assert events_of(order_id) == history
    assert [e.type for e in history].count("shipment.delivered") == 1
    assert [e.type for e in history].count("order.delivered") == 1

    changed = oms.track(parcel, "failed", "e-2", at(stack, -10))  # same id, other content
    assert changed.status == 409

    view = oms.call("GET", f"/shipments/{parcel['shipment_id']}").json()
    assert view["status"] == "delivered"
    assert view["progress_due"] is None
    assert [(e["event_id"], e["outcome"]) for e in view["events"]] == [  # as they happened
        ("e-1", "recorded"),
        ("e-2", "applied"),
        ("e-3", "recorded"),
        ("e-4", "applied"),
    ]


def test_a_failed_attempt_then_a_newer_redelivery_moves_on(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 3)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    assert oms.track(parcel, "out_for_delivery", "r-1", at(stack, -9)).json()["outcome"] == "applied"
    assert oms.track(parcel, "failed", "r-2", at(stack, -8)).json()["status"] == "failed"
    assert oms.track(parcel, "out_for_delivery", "r-0", at(stack, -10)).json()["outcome"] == "recorded"
    assert oms.track(parcel, "out_for_delivery", "r-3", at(stack, -4)).json()["status"] == "out_for_delivery"
    assert oms.track(parcel, "delivered", "r-4", at(stack, -3)).json()["orders"] == {
        order["order_id"]: "DELIVERED"
    }
    types = [e.type for e in events_of(order["order_id"])]
    assert types.count("shipment.failed") == 1
    assert types.count("shipment.out_for_delivery") == 2


# ---------------------------------------------------------------- merged parcels, virtual orders


def test_a_merged_parcel_advances_each_of_its_orders(oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    home = address(line1=f"{uuid.uuid4().hex[:6]} Huaihai Rd")
    buyer = {"id": f"buyer-{uuid.uuid4().hex[:8]}"}
    with allocation_rules(oms, merge_window_minutes=30):
        first = oms.post(order_body([(a, 1)], buyer=buyer, shipping_address=home))
        eventually(lambda: oms.order(first.json()["order_id"])["status"] == "ALLOCATED", what="allocated")
        second = oms.post(order_body([(b, 2)], buyer=buyer, shipping_address=home))
        for posted in (first, second):
            assert oms.wait(posted.json()["execution_arn"])["status"] == "SUCCEEDED"
    leader, member = (oms.order(p.json()["order_id"]) for p in (first, second))
    (parcel,) = leader["shipments"]
    assert parcel["order_ids"] == sorted([leader["order_id"], member["order_id"]])

    answer = oms.track(parcel, "delivered", "merged-1", at(stack, -1))
    assert answer.json()["orders"] == {leader["order_id"]: "DELIVERED", member["order_id"]: "DELIVERED"}
    for order_id in parcel["order_ids"]:
        assert [e.type for e in events_of(order_id)][-2:] == ["shipment.delivered", "order.delivered"]


def test_an_order_of_virtual_lines_only_is_delivered_at_once(oms):
    order, _ = oms.run(order_body([line(new_sku("GIFT"), 1, "50.00", virtual=True)]))
    assert order["status"] == "DELIVERED"
    assert order["delivery"]["state"] == "delivered"
    types = [e.type for e in events_of(order["order_id"])]
    assert types[-2:] == ["order.shipped", "order.delivered"]
    (shipment,) = order["shipments"]
    page = oms.call("GET", f"/shipments/{shipment['shipment_id']}")  # nothing to track, but it exists
    assert (page.status, page.json()["status"], page.json()["events"]) == (200, "delivered", [])


def test_mixed_order_waits_for_its_parcel_only(oms, stack):
    goods = new_sku()
    oms.set_stock(goods, 2)
    order, _ = oms.run(order_body([(goods, 1), line(new_sku("SVC"), 1, "9.00", virtual=True)]))
    assert order["status"] == "SHIPPED"
    assert (order["delivery"]["delivered"], order["delivery"]["total"]) == (1, 2)
    parcel = next(s for s in order["shipments"] if not s.get("virtual"))
    assert oms.track(parcel, "delivered", "mixed-1", at(stack, -1)).json()["orders"] == {
        order["order_id"]: "DELIVERED"
    }


# ---------------------------------------------------------------- carrier selection


def test_carrier_is_chosen_by_warehouse_destination_and_weight(oms):
    light, heavy = new_sku(), new_sku()
    rules = [
        {"carrier": "ZTO", "destinations": ["XJ"]},
        {"carrier": "DBL", "warehouses": ["WH-MAIN"], "min_weight_kg": "20"},
    ]
    # The weight is the product master's (a merchandiser sets it); the light SKU has none: the default.
    weighed = oms.as_role("merchandiser").call(
        "PUT", f"/products/{heavy}", {"weight_kg": "12.5", "version": 0}
    )
    assert weighed.status == 200, weighed.body
    with carrier_rules(oms, rules=rules, carrier_by_country={"US": "UPS"}):
        oms.set_stock(light, 5)
        oms.set_stock(heavy, 5)
        by_weight, _ = oms.run(order_body([(heavy, 2)]))
        by_region, _ = oms.run(order_body([(heavy, 2)], shipping_address=address(region="XJ")))
        default, _ = oms.run(order_body([(light, 1)]))
        by_country, _ = oms.run(
            order_body(
                [(light, 1)],
                shipping_address=address(country="US", region="CA", postal_code="94103"),
                currency="USD",
            )
        )
    assert [o["shipments"][0]["carrier"] for o in (by_weight, by_region, default, by_country)] == [
        "DBL",
        "ZTO",
        "SF",
        "UPS",
    ]
    shipped = next(e for e in events_of(by_weight["order_id"]) if e.type == "order.shipped")
    assert shipped.detail["shipments"][0]["carrier_rule"] == "rule 1"
    assert by_weight["shipments"][0]["tracking_number"].startswith("DBL")


# ---------------------------------------------------------------- authentication and scope


def test_only_the_parcels_carrier_may_post_and_only_signed(oms, stack):
    order = ship_two_warehouses(oms)
    parcel = warehouse_of(order, "WH-MAIN")
    path = f"/shipments/{parcel['shipment_id']}/tracking"
    body = {
        "event_id": "auth-1",
        "tracking_number": parcel["tracking_number"],
        "status": "picked",
        "occurred_at": at(stack),
    }
    assert oms.as_carrier("YTO").call("POST", path, body).status == 404  # not its parcel
    assert oms.as_platform("tmall").call("POST", path, body).status == 403
    assert oms.anonymous().call("POST", path, body).status == 401
    raw = json.dumps(body)
    forged = oms.anonymous().call(
        "POST", path, raw, {"X-OMS-Carrier": parcel["carrier"], **_sig(oms, path, raw, "not-the-secret")}
    )
    assert forged.status == 401
    wrong_number = oms.as_carrier(parcel["carrier"]).call("POST", path, {**body, "tracking_number": "X1"})
    assert wrong_number.status == 422
    assert oms.as_carrier(parcel["carrier"]).call("POST", path, body).status == 200
    assert repository.get_tracking(parcel["shipment_id"]).status == "picked"


def _sig(oms: Any, path: str, raw: str, secret: str) -> dict[str, str]:
    from functions.core.auth.signing import sign_request, timestamp_ms

    timestamp = timestamp_ms(oms.stack.clock.now())
    signature = sign_request(secret, "POST", path, timestamp, raw)
    return {"X-OMS-Timestamp": timestamp, "X-OMS-Signature": signature}


def test_a_platform_reads_only_shipments_of_its_own_orders(oms):
    order = ship_two_warehouses(oms)
    shipment_id = order["shipments"][0]["shipment_id"]
    own = oms.as_platform("tmall").call("GET", f"/shipments/{shipment_id}")
    assert own.status == 200
    assert own.json()["order_ids"] == [order["order_id"]]
    assert oms.as_platform("jd").call("GET", f"/shipments/{shipment_id}").status == 404
    assert oms.as_role("viewer").call("GET", f"/shipments/{shipment_id}").status == 200


# ---------------------------------------------------------------- the delay check


def test_a_stuck_shipment_is_flagged_delayed_once_after_its_sla(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 3, warehouse="WH-SLOW")
    with carrier_rules(
        oms,
        rules=[{"carrier": "SLOWEX", "warehouses": ["WH-SLOW"]}],
        progress_sla_hours_by_carrier={"SLOWEX": 2},
    ):
        order, _ = oms.run(order_body([(sku, 1)]))
        (parcel,) = order["shipments"]
        assert parcel["carrier"] == "SLOWEX"
        assert oms.track(parcel, "picked", "slow-1", at(stack)).json()["outcome"] == "applied"
        due = repository.get_tracking(parcel["shipment_id"]).progress_due
        assert due == stack.clock.now() + timedelta(hours=2)

        stack.clock.advance_to(due - timedelta(seconds=1))
        stack.settle()
        assert "shipment.delayed" not in [e.type for e in events_of(order["order_id"])]
        stack.advance(5 * 60 + 1)  # the next rate(5 minutes) delay check

        flagged = [
            e for e in events_of(order["order_id"]) if e.type in ("shipment.delayed", "exception.opened")
        ]
        assert [e.type for e in flagged] == ["shipment.delayed", "exception.opened"]
        assert flagged[1].detail["kind"] == "delayed"
        exception_id = flagged[1].detail["exception_id"]
        for _ in range(2):  # the schedule fires twice: nothing more happens
            result = stack.runtime.invoke("DelayCheckFunction", {})
            assert exception_id not in result["flagged"]
        assert [e.type for e in events_of(order["order_id"])].count("shipment.delayed") == 1
        open_cases = oms.as_role("viewer").call("GET", "/exceptions?status=open").json()["exceptions"]
        (case,) = [c for c in open_cases if c["exception_id"] == exception_id]
        assert (case["kind"], case["shipment_id"], case["order_ids"]) == (
            "delayed",
            parcel["shipment_id"],
            [order["order_id"]],
        )

        # the parcel moves again: watched again; delivered: done, and the case is ops' to close
        assert oms.track(parcel, "in_transit", "slow-2", at(stack)).json()["outcome"] == "applied"
        assert repository.get_tracking(parcel["shipment_id"]).progress_due is not None
        oms.track(parcel, "delivered", "slow-3", at(stack))
        assert oms.order(order["order_id"])["status"] == "DELIVERED"
        resolved = oms.as_role("ops").call(
            "POST", f"/exceptions/{exception_id}/resolve", {"action": "dismiss", "comment": "arrived late"}
        )
        assert resolved.status == 200, resolved.body
        assert resolved.json()["resolution"]["written_off"] == []
    assert stack.metrics.summary()["counters"]["ShipmentsDelayed"]["total"] >= 1


# ---------------------------------------------------------------- damage -> reship


def test_damaged_goods_are_reshipped_from_stock_and_written_off(oms, stack):
    sku, other = new_sku(), new_sku()
    oms.set_stock(sku, 10)
    oms.set_stock(other, 10)
    order, _ = oms.run(order_body([(sku, 2), (other, 1)]))
    (parcel,) = order["shipments"]
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}

    damaged = oms.as_carrier(parcel["carrier"]).call(
        "POST",
        f"/shipments/{parcel['shipment_id']}/tracking",
        {
            "event_id": "dmg-1",
            "tracking_number": parcel["tracking_number"],
            "status": "damaged",
            "occurred_at": at(stack, -1),
            "description": "box crushed at the Hangzhou hub",
        },
    )
    assert damaged.status == 200, damaged.body
    assert damaged.json()["outcome"] == "exception_opened"
    exception_id = damaged.json()["exception_id"]
    again = oms.track(parcel, "damaged", "dmg-2", at(stack))  # reported twice: still one case
    assert again.json()["outcome"] == "recorded"
    cases = oms.call("GET", "/exceptions?status=open").json()["exceptions"]
    (case,) = [c for c in cases if c["shipment_id"] == parcel["shipment_id"]]
    assert (case["exception_id"], case["kind"], case["opened_by"]) == (
        exception_id,
        "damaged",
        f"carrier:{parcel['carrier']}",
    )
    assert (
        oms.as_role("viewer")
        .call("POST", f"/exceptions/{exception_id}/resolve", {"action": "reship", "comment": "x"})
        .status
        == 403
    )

    answer = oms.as_role("ops", "ops.li").call(
        "POST", f"/exceptions/{exception_id}/resolve", {"action": "reship", "comment": "send it again"}
    )
    assert answer.status == 200, answer.body
    resolution = answer.json()["resolution"]
    replacement_id = resolution["replacement_order_ids"][order["order_id"]]
    assert resolution["actor"] == "user:ops.li"
    assert sorted((r["sku"], r["quantity"]) for r in resolution["written_off"]) == sorted(
        [(sku, 2), (other, 1)]
    )
    repeat = oms.as_role("ops").call(
        "POST", f"/exceptions/{exception_id}/resolve", {"action": "reship", "comment": "send it again"}
    )
    assert repeat.json()["repeated"] is True
    assert repeat.json()["resolution"]["replacement_order_ids"] == resolution["replacement_order_ids"]
    other_action = oms.as_role("ops").call(
        "POST", f"/exceptions/{exception_id}/resolve", {"action": "refund", "comment": "no"}
    )
    assert other_action.status == 409

    replacement = oms.order(replacement_id)
    assert oms.wait(replacement["execution_arn"])["status"] == "SUCCEEDED"
    replacement = oms.order(replacement_id)
    assert replacement["status"] == "SHIPPED"
    assert replacement["replaces"] == {
        "order_id": order["order_id"],
        "cause": "reship",
        "cause_id": exception_id,
    }
    # stock: 2 left with the damaged parcel (never back), 2 more with the reship
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 0, "available": 6}
    assert oms.stock(other) == {"on_hand": 8, "reserved": 0, "available": 8}
    ledger = [(m.kind, m.ref, m.on_hand_delta, m.quantity) for m in repository.stock_ledger(sku)]
    assert ("writeoff", exception_id, 0, 2) in ledger
    assert ("ship", order["order_id"], -2, None) in ledger
    assert ("ship", replacement_id, -2, None) in ledger
    assert_conserved(sku)
    assert_conserved(other)

    types = [e.type for e in events_of(order["order_id"])]
    assert types[-2:] == ["exception.opened", "exception.resolved"]
    resolved = events_of(order["order_id"])[-1]
    assert resolved.detail["resolution"] == "reship"
    assert resolved.detail["replacement_order_id"] == replacement_id
    open_now = oms.call("GET", "/exceptions?status=open").json()["exceptions"]
    assert exception_id not in [c["exception_id"] for c in open_now]
    done = oms.call("GET", "/exceptions?status=resolved&limit=500").json()["exceptions"]
    assert exception_id in [c["exception_id"] for c in done]
    assert repository.get_tracking(parcel["shipment_id"]).progress_due is None  # not watched any more


def test_a_lost_parcel_refunded_opens_an_approved_refund_case_and_refunds_once(oms, stack):
    sku, kept = new_sku(), new_sku()
    oms.set_stock(sku, 4)
    oms.set_stock(kept, 4, warehouse="WH-EAST")
    order, _ = oms.run(order_body([line(sku, 1, "30.00"), line(kept, 1, "70.00")]))
    parcel = warehouse_of(order, "WH-MAIN")
    exception_id = oms.track(parcel, "lost", "lost-1", at(stack)).json()["exception_id"]
    body = {"action": "refund", "comment": "refund the buyer"}
    answer = oms.as_role("ops").call("POST", f"/exceptions/{exception_id}/resolve", body)
    assert answer.status == 200, answer.body
    resolution = answer.json()["resolution"]
    assert resolution["replacement_order_ids"] == {}
    case_id = resolution["refund_case_ids"][order["order_id"]]

    # ops decided: after-sales approves without a second decision and refunds the lost line only
    case = wait_case(oms, case_id, "REFUND_PENDING")
    assert (case["kind"], case["reason"], case["amount"]) == ("refund_only", "logistics_exception", "30.00")
    assert [(x["sku"], x["quantity"]) for x in case["lines"]] == [(sku, 1)]
    assert confirm_refund(oms, case).status == 200
    assert confirm_refund(oms, case).json()["applied"] is False  # the provider calls back twice
    wait_case(oms, case_id, "CLOSED")
    again = oms.as_role("ops").call("POST", f"/exceptions/{exception_id}/resolve", body)
    assert again.json()["resolution"]["refund_case_ids"] == {order["order_id"]: case_id}
    refunded = oms.order(order["order_id"])["refund_summary"]
    assert (refunded["refunded"], refunded["refunds"]) == ("30.00", 1)
    assert order_events(order["order_id"]).count("order.refunded") == 1
    assert [m.kind for m in repository.stock_ledger(sku)].count("writeoff") == 1
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
    resolved = [e for e in events_of(order["order_id"]) if e.type == "exception.resolved"]
    assert [(e.detail["kind"], e.detail["resolution"], e.detail["refund_case_id"]) for e in resolved] == [
        ("lost", "refund", case_id)
    ]
    assert_conserved(sku)


def test_a_resolution_interrupted_after_the_reship_is_finished_by_its_retry(oms, stack, monkeypatch):
    sku = new_sku()
    oms.set_stock(sku, 6)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    exception_id = oms.track(parcel, "lost", "lost-crash", at(stack)).json()["exception_id"]
    real = repository.commit
    calls = {"n": 0}

    def crash_once(items):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("throttled")
        return real(items)

    monkeypatch.setattr(repository, "commit", crash_once)
    body = {"action": "reship", "comment": "lost in transit"}
    first = oms.as_role("ops").call("POST", f"/exceptions/{exception_id}/resolve", body)
    assert first.status == 503  # the replacement exists, the resolution was not recorded
    assert oms.call("GET", "/exceptions?status=open").json()["count"] >= 1
    second = oms.as_role("ops").call("POST", f"/exceptions/{exception_id}/resolve", body)
    assert second.status == 200, second.body
    replacement_id = second.json()["resolution"]["replacement_order_ids"][order["order_id"]]
    assert oms.wait(oms.order(replacement_id)["execution_arn"])["status"] == "SUCCEEDED"
    assert len(oms.executions_named(replacement_id)) == 1
    assert oms.stock(sku) == {"on_hand": 4, "reserved": 0, "available": 4}  # shipped once, reshipped once
    assert [m.kind for m in repository.stock_ledger(sku)].count("writeoff") == 1
    assert_conserved(sku)


def test_both_parcels_delivered_at_the_same_moment_deliver_the_order_once(oms, stack):
    order = ship_two_warehouses(oms)
    parcels = [warehouse_of(order, "WH-MAIN"), warehouse_of(order, "WH-EAST")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(lambda p: oms.track(p, "delivered", f"same-{p['warehouse']}", at(stack, -1)), parcels)
        )
    assert [a.json()["outcome"] for a in answers] == ["applied", "applied"]
    done = oms.order(order["order_id"])
    assert done["status"] == "DELIVERED"
    assert (done["delivery"]["delivered"], done["delivery"]["total"]) == (2, 2)
    types = [e.type for e in events_of(order["order_id"])]
    assert types[-4:].count("shipment.delivered") == 2
    assert types.count("order.partially_delivered") == 1
    assert types.count("order.delivered") == 1


def test_a_parcels_carrier_events_read_back_as_they_were_kept(oms, stack):
    """GET /shipments/{id}: every kept carrier event, its fields as posted (times in their own offset,
    UTC as Z), when it came (`received_at`, the clock's ISO form) and what it did; never its fingerprint."""
    sku = new_sku()
    oms.set_stock(sku, 2)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    carrier = oms.as_carrier(parcel["carrier"])
    path = f"/shipments/{parcel['shipment_id']}/tracking"
    east = (stack.clock.now() - timedelta(hours=5)).astimezone(timezone(timedelta(hours=8)))
    posted = [
        {
            "event_id": "pin-1",
            "status": "in_transit",
            "occurred_at": east.isoformat(),
            "location": "Hangzhou hub",
        },
        {
            "event_id": "pin-0",
            "status": "picked",
            "occurred_at": at(stack, -6),
        },  # late: kept, changes nothing
        {
            "event_id": "pin-2",
            "status": "damaged",
            "occurred_at": at(stack, -4),
            "description": "box crushed",
        },
    ]
    for body in posted:
        answer = carrier.call("POST", path, {**body, "tracking_number": parcel["tracking_number"]})
        assert answer.status == 200, answer.body
    view = oms.call("GET", f"/shipments/{parcel['shipment_id']}").json()
    (case_id,) = view["exception_ids"]
    z = lambda text: text.replace("+00:00", "Z")  # noqa: E731
    expected = [
        {"event_id": "pin-0", "status": "picked", "occurred_at": z(posted[1]["occurred_at"]),
         "outcome": "recorded", "reason": view["events"][0]["reason"]},
        {"event_id": "pin-1", "status": "in_transit", "occurred_at": east.isoformat(),
         "location": "Hangzhou hub", "outcome": "applied", "reason": view["events"][1]["reason"]},
        {"event_id": "pin-2", "status": "damaged", "occurred_at": z(posted[2]["occurred_at"]),
         "description": "box crushed", "outcome": "exception_opened", "exception_id": case_id,
         "reason": view["events"][2]["reason"]},
    ]  # fmt: skip
    received = [event.pop("received_at") for event in view["events"]]
    assert view["events"] == [{**e, "tracking_number": parcel["tracking_number"]} for e in expected]
    assert all(isinstance(e["reason"], str) and e["reason"] for e in view["events"])
    for text in received:
        assert datetime.fromisoformat(text).isoformat() == text
        assert text.endswith("+00:00")
    assert set(view) == {
        "shipment_id", "carrier", "tracking_number", "warehouse", "order_ids", "platforms", "status",
        "status_at", "last_progress_at", "progress_due", "exception_ids", "version", "created_at", "events",
    }  # fmt: skip
