"""What the feature check found (one regression test each): fulfilment updates, the virtual shipment's
page, backorders after a cancellation, the payment route's error body, automatic rejections' reason,
the metrics funnel's cancellations and unknown query parameters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from functions.core import repository
from functions.events.catalogue import FULFILMENT_UPDATED
from oms.commands import build_parser
from tests.e2e.stock_support import allocation_rules, eventually
from tests.factories import line, new_sku, order_body
from tests.review_helpers import intercept, wait_for

pytestmark = pytest.mark.e2e

BUS = "oms-local-orders"


def _fulfilment_updates(stack: Any, order_id: str) -> list[dict[str, Any]]:
    stack.settle()
    return [
        e["detail"]
        for e in stack.event_sources.events_on(BUS)
        if e["detail-type"] == FULFILMENT_UPDATED and e["detail"]["order_id"] == order_id
    ]


def test_a_delivered_parcel_pushes_one_delivered_update_with_its_carrier_and_tracking_number(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 3)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    at = (stack.clock.now() + timedelta(minutes=5)).isoformat()
    assert oms.track(parcel, "delivered", "dlv-1", at).status == 200
    eventually(lambda: oms.order(order["order_id"])["status"] == "DELIVERED", what="delivered")

    delivered = [
        u for u in _fulfilment_updates(stack, order["order_id"]) if u["shipment_status"] == "delivered"
    ]
    assert len(delivered) == 1, delivered
    assert delivered[0]["carrier"] == parcel["carrier"]
    assert delivered[0]["tracking_number"] == parcel["tracking_number"]


def test_the_virtual_shipment_has_a_page_like_any_other(oms):
    order, _ = oms.run(order_body([line(new_sku(), 1, "30.00", virtual=True)]))
    (shipment,) = order["shipments"]
    assert shipment["shipment_id"].endswith("-VIRTUAL")

    answer = oms.call("GET", f"/shipments/{shipment['shipment_id']}")
    assert answer.status == 200, answer.body
    view = answer.json()
    assert (view["status"], view["carrier"], view["order_ids"]) == (
        "delivered",
        "VIRTUAL",
        [order["order_id"]],
    )
    assert view["tracking_number"] == shipment["tracking_number"]
    assert oms.as_platform("jd").call("GET", f"/shipments/{shipment['shipment_id']}").status == 404
    assert oms.call("GET", "/shipments/NOPE-0000-VIRTUAL").status == 404


def test_the_cli_lists_backordered_orders():
    parsed = build_parser().parse_args(["orders", "--status", "BACKORDERED"])
    assert parsed.status == "BACKORDERED"


def test_a_cancelled_backorder_no_longer_counts_on_the_sku(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 1)
    with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
        posted = oms.post(order_body([(sku, 3)])).json()
        eventually(lambda: repository.waitlist(sku), what="the order on the waitlist")
        assert oms.call("GET", f"/inventory/{sku}").json()["backorders"] == 1

        assert intercept(oms, posted["order_id"], "cancel").status in (200, 202)
        execution = oms.wait(posted["execution_arn"])

    assert execution["status"] == "SUCCEEDED"
    assert oms.order(posted["order_id"])["status"] == "CANCELLED"
    assert oms.call("GET", f"/inventory/{sku}").json()["backorders"] == 0
    assert repository.waitlist(sku) == []


def test_payment_route_errors_have_the_one_error_body(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 2)
    order, _ = oms.run(order_body([(sku, 1, "10.00")]))
    wrong = oms.pay(order["order_id"], "PAY-X", "9.99")
    assert wrong.status == 422
    error = wrong.json()["error"]
    assert error["code"] == "AMOUNT_MISMATCH"
    assert [f["field"] for f in error["fields"]] == ["body.amount"]


def test_an_automatic_rejection_says_why_in_rejection(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 2, "10.00")], total="99.00"))
    assert order["status"] == "REJECTED"
    assert order["rejection"]["code"] == "TOTAL_MISMATCH"
    assert order["rejection"]["message"]


def test_the_metrics_funnel_counts_every_cancellation(oms, stack):
    stack.metrics.clear()
    cancelled = []
    for _ in range(2):
        sku = new_sku()
        oms.set_stock(sku, 0)
        with allocation_rules(oms, out_of_stock="backorder", backorder_retry_minutes=60):
            posted = oms.post(order_body([(sku, 1)])).json()
            eventually(lambda sku=sku: repository.waitlist(sku), what="the order on the waitlist")
            assert intercept(oms, posted["order_id"], "cancel").status in (200, 202)
            oms.wait(posted["execution_arn"])
        cancelled.append(posted["order_id"])
    assert [oms.order(o)["status"] for o in cancelled] == ["CANCELLED", "CANCELLED"]
    wait_for(stack, lambda: stack.metrics.summary()["funnel"]["cancelled"] >= 2, what="funnel")
    assert stack.metrics.summary()["funnel"]["cancelled"] == 2


@pytest.mark.parametrize(
    "path",
    ["/orders?format=csv", "/orders?status=SHIPPED&sttaus=x", "/holds?colour=red", "/inventory/ABC?x=1"],
)
def test_an_unknown_query_parameter_is_refused_naming_it(oms, path):
    answer = oms.call("GET", path)
    assert answer.status == 422, answer.body
    error = answer.json()["error"]
    assert error["code"] == "UNKNOWN_PARAMETER"
    unknown = path.split("?")[1].split("&")[-1].split("=")[0]
    assert [f["field"] for f in error["fields"]] == [f"query.{unknown}"]
    assert unknown in error["message"]


def test_declared_query_parameters_still_work(oms):
    assert oms.call("GET", "/orders?status=SHIPPED&limit=5").status == 200
