"""Flash sale on one SKU whose stock is spread over counter shards (allocation rule `hot_sku_shards`):
many orders race from threads through the real state machine. Successes equal stock, nothing is
oversold, no order is refused while the shards together could serve it, and every counter equals its
ledger afterwards."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from functions.core import repository
from tests.e2e.stock_support import allocation_rules, assert_conserved, sync
from tests.e2e.test_stock_concurrency import StockWatcher, race
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def units_shipped(orders: list[dict], sku: str) -> int:
    return sum(
        item["quantity"]
        for order in orders
        for shipment in order["shipments"]
        for item in shipment["lines"]
        if item["sku"] == sku
    )


def test_forty_eight_orders_for_thirty_units_on_four_shards(oms, stack):
    sku, stock, n = new_sku("HOT"), 30, 48
    with allocation_rules(oms, hot_sku_shards={sku: 4}):
        assert sync(oms, sku, stock).status == 201
        assert len(repository.get_stock_shards(sku)) == 4
        with StockWatcher(sku) as watcher:
            orders = race(oms, [order_body([(sku, 1)]) for _ in range(n)], threads=10)
    watcher.assert_sane()

    statuses = Counter(order["status"] for order in orders)
    assert statuses == {"SHIPPED": stock, "REJECTED": n - stock}  # successes == stock
    shipped = units_shipped(orders, sku)
    assert shipped - stock == 0  # oversold 0
    assert {o["rejection"]["code"] for o in orders if o["status"] == "REJECTED"} == {"OUT_OF_STOCK"}
    assert oms.stock(sku) == {"on_hand": 0, "reserved": 0, "available": 0}

    audits = assert_conserved(sku)
    assert sum(-a.by_kind.get("ship", 0) for a in audits) == stock
    reserved_per_shard = Counter(
        m.shard for m in repository.stock_ledger(sku) if m.kind == "reserve" for _ in range(m.reserved_delta)
    )
    assert sorted(reserved_per_shard) == [0, 1, 2, 3]  # the orders spread over every shard


def test_uneven_orders_drain_every_shard_before_anyone_is_refused(oms, stack):
    sku, stock = new_sku("HOT"), 12
    quantities = random.Random(7).choices([1, 2, 3], k=10)  # 10 orders asking for more than 12 units
    assert sum(quantities) > stock
    with allocation_rules(oms, hot_sku_shards={sku: 3}):
        sync(oms, sku, stock)
        orders = race(oms, [order_body([(sku, q)]) for q in quantities], threads=6)

    shipped = units_shipped(orders, sku)
    assert shipped <= stock  # never oversold
    left = oms.stock(sku)["available"]
    assert left == stock - shipped
    refused = [o["lines"][0]["quantity"] for o in orders if o["status"] == "REJECTED"]
    assert refused, "the race was meant to run out of stock"
    assert all(q > left for q in refused)  # refused only when all shards together could not serve it
    assert_conserved(sku)
