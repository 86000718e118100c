"""Sales pre-aggregates on the local stack: orders through the pipeline, their stream records folded by
SalesAggregatorFunction (delivered like Lambda's event source mapping, FilterCriteria applied), and
GET /reports/sales read back from the counters, checked against a computation from the orders."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from functions.core import repository
from functions.core.models.orders import Order
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e

NOT_SALES = {"REJECTED", "CANCELLED", "FAILED"}
AGGREGATOR = "SalesAggregatorFunction"


def report(oms, platform: str, first: str, last: str, **query: str) -> dict[str, Any]:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    response = oms.as_role("viewer").call(
        "GET", f"/reports/sales?platform={platform}&from={first}&to={last}&top=20{extra}"
    )
    assert response.status == 200, response.body
    return response.json()


def direct(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's figures computed here, from the orders as GET /orders/{id} serves them."""
    revenue, cancelled_amount = Decimal(0), Decimal(0)
    units: Counter[str] = Counter()
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for order in orders:
        day = datetime.fromisoformat(order["created_at"]).date().isoformat()  # UTC: the default zone
        per_day[day][0] += 1
        total = Decimal(order["amounts"]["total"])
        if order["status"] in NOT_SALES:
            cancelled_amount += total
            continue
        per_day[day][1] += 1
        revenue += total
        for line in order["lines"]:
            units[line["sku"]] += line["quantity"]
    return {
        "orders": len(orders),
        "sales": sum(1 for o in orders if o["status"] not in NOT_SALES),
        "revenue": revenue,
        "cancelled_amount": cancelled_amount,
        "units": units,
        "per_day": dict(per_day),
    }


def aggregator_records(stack) -> int:
    return sum(d.records for d in stack.event_sources.deliveries if d.function == AGGREGATOR and d.ok)


def test_report_equals_a_direct_computation_from_the_orders(oms, stack):
    platform = f"g{uuid.uuid4().hex[:10]}"
    a, b, c = new_sku(), new_sku(), new_sku()
    for sku in (a, b, c):
        oms.set_stock(sku, 100)
    delivered_before = aggregator_records(stack)
    bodies = [
        order_body([(a, 2, "19.90"), (b, 1, "5.05")], platform=platform),
        order_body([(a, 1, "19.90")], platform=platform, shipping="6.00"),
        order_body([(c, 7, "0.33")], platform=platform),
        order_body([(b, 3, "5.05")], platform=platform, total="1.00"),  # rejected: TOTAL_MISMATCH
        order_body([(c, 1, "999.99")], platform=platform, payment={"status": "unpaid"}),  # cancelled unpaid
    ]
    ids = [oms.run(body)[0]["order_id"] for body in bodies]
    stack.settle()
    orders = [oms.order(i) for i in ids]
    assert Counter(o["status"] for o in orders) == Counter({"SHIPPED": 3, "REJECTED": 1, "CANCELLED": 1})
    days = sorted({o["created_at"][:10] for o in orders})
    got = report(oms, platform, days[0], days[-1])
    want = direct(orders)

    assert got["source"] == "aggregates"
    assert got["timezone"] == "UTC"
    assert (got["orders"], got["sales"]) == (want["orders"], want["sales"]) == (5, 3)
    assert got["revenue"] == {"CNY": f"{want['revenue']:.2f}"}
    assert got["cancelled"] == 2
    assert got["cancelled_amount"] == {"CNY": f"{want['cancelled_amount']:.2f}"}
    assert {s["sku"]: s["quantity"] for s in got["top_skus"]} == dict(want["units"])
    assert {d["day"]: [d["orders"], d["sales"]] for d in got["days"] if d["orders"]} == want["per_day"]
    assert got == report(oms, platform, days[0], days[-1], source="aggregates")
    audit = report(oms, platform, days[0], days[-1], source="orders")
    assert audit["source"] == "orders"
    assert (audit["orders"], audit["sales"], audit["revenue"]) == (
        got["orders"],
        got["sales"],
        got["revenue"],
    )
    # FilterCriteria: the aggregator was given the 5 ORDER inserts and the 2 moves into REJECTED /
    # CANCELLED, not the dozens of other writes these orders made.
    assert aggregator_records(stack) - delivered_before == 7
    assert not [e for e in stack.event_sources.errors if "SalesRecords" in e]


def test_refunds_reduce_revenue_on_the_day_of_receipt(oms, stack):
    platform = f"f{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 10)
    shipped, _ = oms.run(order_body([(sku, 2, "50.00")], platform=platform))
    day = shipped["created_at"][:10]
    stack.settle()
    assert report(oms, platform, day, day)["revenue"] == {"CNY": "100.00"}

    stored = repository.get_order(shipped["order_id"])
    for refund_id, amount in (("rf-1", "30.00"), ("rf-2", "0.01")):
        # what after-sales records when it refunds (the event the aggregator listens for)
        stored = repository.annotate(
            stored,
            event_type="order.refunded",
            actor="aftersales:test",
            set_fields={},
            detail={
                "case_id": "case-1",
                "refund_id": refund_id,
                "amount": amount,
                "currency": "CNY",
                "lines": [],
            },
        ) or pytest.fail("annotate refused")
    stack.settle()
    got = report(oms, platform, day, day)
    assert got["revenue"] == {"CNY": "69.99"}
    assert got["refunded"] == {"CNY": "30.01"}
    assert (got["orders"], got["sales"]) == (1, 1)  # a refund is not a cancellation
    assert got["days"][0]["refunded"] == {"CNY": "30.01"}


def _insert_record(item: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "eventID": f"redelivered-{n}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {}, "NewImage": item, "SequenceNumber": str(n), "StreamViewType": "NEW_IMAGE"},
    }


def test_a_redelivered_batch_is_counted_once(oms, stack):
    """Lambda redelivers a batch after a failure: the markers' conditions refuse the second count."""
    platform = f"d{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 10)
    first, _ = oms.run(order_body([(sku, 1, "12.34")], platform=platform))
    second, _ = oms.run(order_body([(sku, 2, "12.34")], platform=platform))
    stack.settle()
    day = first["created_at"][:10]
    before = report(oms, platform, day, day)
    assert before["revenue"] == {"CNY": "37.02"}

    orders = [repository.get_order(o["order_id"]) for o in (first, second)]
    batch = {"Records": [_insert_record(_item(o), n) for n, o in enumerate(orders * 2)]}
    result = stack.runtime.invoke(AGGREGATOR, batch)
    assert result["duplicates"] == 4  # twice in the batch, and both counted before
    assert result["counter_writes"] == 0
    assert report(oms, platform, day, day) == before


def _item(order: Order) -> dict[str, Any]:
    return repository._order_item(order)


def test_a_flash_sale_folds_into_a_few_writes_per_batch(oms, stack):
    """1,000 orders of one SKU, delivered as Lambda would at BatchSize 500: 2 invocations, 12
    transactions (98 markers + 2 counters each, 6 per batch), 24 counter updates, exact totals."""
    from tests.factories import stored_order

    platform = f"h{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    at = stack.clock.now()
    orders = [stored_order(order_body([(sku, 1, "9.99")], platform=platform), at)[0] for _ in range(1000)]
    # Orders stored whole (an ORDER item from before the body split): the fold reads nothing, so the
    # orders need not be in the table, where the stream would fold them first.
    whole = [{**_item(o), **repository._body_item(o), **_item(o)} for o in orders]
    records = [_insert_record(image, n) for n, image in enumerate(whole)]
    log: list[Any] = []
    stack.settle()
    stack.runtime.dynamodb_log = log
    try:
        results = [stack.runtime.invoke(AGGREGATOR, {"Records": records[i : i + 500]}) for i in (0, 500)]
    finally:
        stack.runtime.dynamodb_log = None
    assert sum(r["transactions"] for r in results) == 12  # 500 = 5 x 98 + 10: 6 per batch
    assert sum(r["counter_writes"] for r in results) == 24
    assert sum(r["marker_writes"] for r in results) == 1000
    transactions = [r for r in log if r.action == "TransactWriteItems"]
    assert len(transactions) == 12
    wcu = sum(r.write_units for r in transactions)
    assert wcu == 2 * (1000 + 24)  # every item < 1 KB, transactional writes bill 2 units
    day = at.date().isoformat()
    got = report(oms, platform, day, day)
    assert (got["orders"], got["sales"], got["revenue"]) == (1000, 1000, {"CNY": "9990.00"})
    assert got["top_skus"][0]["quantity"] == 1000
