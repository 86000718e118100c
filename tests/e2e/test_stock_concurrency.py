"""Many orders racing for little stock: exactly as many ship as there are units, the rest are rejected,
no counter ever goes negative, and every unit is accounted for."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.core import repository
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


class StockWatcher:
    """Samples a SKU's stock rows in the background for as long as the race runs."""

    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.samples: list[tuple[str, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for level in repository.get_stock(self.sku):
                self.samples.append((level.warehouse, level.on_hand, level.reserved, level.available))
            self._stop.wait(0.02)

    def __enter__(self) -> StockWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def assert_sane(self) -> None:
        assert self.samples, "the watcher saw nothing"
        for warehouse, on_hand, reserved, available in self.samples:
            assert min(on_hand, reserved, available) >= 0, (warehouse, on_hand, reserved, available)
            assert available + reserved == on_hand, (warehouse, on_hand, reserved, available)


def race(oms, bodies: list[dict], threads: int) -> list[dict]:
    """POST every body from `threads` threads at once, wait for every execution, return the final orders."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        answers = list(pool.map(oms.post, bodies))
    assert [a.status for a in answers] == [201] * len(bodies)
    executions = [oms.wait(a.json()["execution_arn"]) for a in answers]
    assert Counter(e["status"] for e in executions) == {"SUCCEEDED": len(bodies)}
    return [oms.order(a.json()["order_id"]) for a in answers]


def shipped_units(orders: list[dict], sku: str) -> Counter[str]:
    """Units of `sku` that left each warehouse, according to the orders' shipments."""
    units: Counter[str] = Counter()
    for order in orders:
        for shipment in order["shipments"]:
            for item in shipment["lines"]:
                if item["sku"] == sku:
                    units[shipment["warehouse"]] += item["quantity"]
    return units


def test_forty_orders_for_twenty_units(oms):
    sku, initial, n = new_sku(), 20, 40
    oms.set_stock(sku, initial)

    with StockWatcher(sku) as watcher:
        orders = race(oms, [order_body([(sku, 1)]) for _ in range(n)], threads=8)
    watcher.assert_sane()

    statuses = Counter(order["status"] for order in orders)
    assert statuses == {"SHIPPED": 20, "REJECTED": 20}
    rejected = [order for order in orders if order["status"] == "REJECTED"]
    assert {order["rejection"]["code"] for order in rejected} == {"OUT_OF_STOCK"}
    assert all(order["review"]["decision"] == "approve" for order in orders)
    assert all(order["reservations"] == [] for order in orders)

    assert oms.stock(sku) == {"on_hand": 0, "reserved": 0, "available": 0}
    assert shipped_units(orders, sku) == {"WH-MAIN": initial}  # conservation: initial == on_hand + shipped
    tracking = [s["tracking_number"] for order in orders for s in order["shipments"]]
    assert len(set(tracking)) == len(tracking) == 20


def test_race_spills_over_to_a_second_warehouse(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    oms.set_stock(sku, 4, warehouse="WH-WEST")
    bodies = [order_body([(sku, 1)]) for _ in range(6)] + [order_body([(sku, 2)]) for _ in range(3)]

    with StockWatcher(sku) as watcher:
        orders = race(oms, bodies, threads=6)
    watcher.assert_sane()

    shipped = shipped_units(orders, sku)
    stock = {wh: oms.stock(sku, wh) for wh in ("WH-MAIN", "WH-WEST")}
    assert all(level["reserved"] == 0 for level in stock.values())
    assert stock["WH-MAIN"]["on_hand"] + shipped["WH-MAIN"] == 5
    assert stock["WH-WEST"]["on_hand"] + shipped["WH-WEST"] == 4
    ordered = sum(body["lines"][0]["quantity"] for body in bodies)  # 12 units asked for, 9 exist
    assert sum(shipped.values()) <= 9 < ordered
    for order in orders:
        assert order["status"] in {"SHIPPED", "REJECTED"}
        if order["status"] == "REJECTED":
            assert order["rejection"]["code"] == "OUT_OF_STOCK"
    # a rejection is only for want of stock: what is left over cannot serve any rejected order
    left = max(level["available"] for level in stock.values())
    rejected_sizes = [o["lines"][0]["quantity"] for o in orders if o["status"] == "REJECTED"]
    assert all(size > left for size in rejected_sizes)
