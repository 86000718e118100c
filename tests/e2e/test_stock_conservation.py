"""Stock is conserved whatever happens in whatever order: random interleavings of reserve, release,
ship and restock (hypothesis, stateful) against the real services and repository on the local stack.

After every step: each counter equals its ledger (on_hand = initial + restocks + adjustments - shipped,
reserved = reserved - released - shipped), reserved equals what the orders' reservation items hold,
nothing is negative, and everything matches an independent model of what should have happened. An
order is refused only when the warehouses together could not serve it.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from functions.allocate.inventory import StockSync, sync_stock
from functions.allocate.service import ReviewDecided, allocate_order, release_order
from functions.core import clock, repository
from functions.core.errors import IllegalTransitionError
from functions.core.models.stock import Reservation
from functions.core.repository import OrderChange, TransactionRejected
from functions.core.status import OrderStatus
from functions.review.service import review_order
from functions.ship.service import ship_order
from tests.e2e.stock_support import allocation_rules, assert_conserved
from tests.factories import new_sku, order_body, stored_order

pytestmark = pytest.mark.e2e

WAREHOUSES = ("WH-A", "WH-B")


class StockMachine(RuleBasedStateMachine):
    oms = None  # set by the test: the driver of the session's local stack

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.sku = new_sku("PROP")
        self.rules = contextlib.ExitStack()
        self.on_hand = dict.fromkeys(WAREHOUSES, 0)
        self.held: dict[str, list[Reservation]] = {}  # open reservations by order
        self.status: dict[str, str] = {}
        self.syncs: list[tuple[str, str, int]] = []  # (sync id, warehouse, on_hand) applied

    def reserved(self, warehouse: str) -> int:
        return sum(r.quantity for rs in self.held.values() for r in rs if r.warehouse == warehouse)

    @initialize(shards=st.integers(1, 3), a=st.integers(0, 6), b=st.integers(0, 6))
    def stock_up(self, shards: int, a: int, b: int) -> None:
        self.rules.enter_context(allocation_rules(self.oms, hot_sku_shards={self.sku: shards}))
        for warehouse, on_hand in zip(WAREHOUSES, (a, b), strict=True):
            self._sync(warehouse, on_hand)

    def teardown(self) -> None:
        self.rules.close()

    def _sync(self, warehouse: str, on_hand: int, sync_id: str | None = None) -> None:
        sync_id = sync_id or f"s-{uuid.uuid4().hex[:10]}"
        outcome = sync_stock(self.sku, StockSync(sync_id=sync_id, warehouse=warehouse, on_hand=on_hand))
        assert not outcome.duplicate
        self.on_hand[warehouse] = on_hand
        self.syncs.append((sync_id, warehouse, on_hand))

    @rule(target=orders, quantity=st.integers(1, 5), deferred=st.booleans())
    def reserve(self, quantity: int, deferred: bool) -> str:
        """`deferred`: the fast path's way, review's approval written with allocation's change."""
        order, event = stored_order(order_body([(self.sku, quantity)]), clock.now())
        assert repository.create_order(order, event)
        decided = review_order(order.order_id, None, defer_approval=deferred)
        free = sum(self.on_hand[wh] - self.reserved(wh) for wh in WAREHOUSES)
        result = allocate_order(order.order_id, None, ReviewDecided(**decided.model_dump()))
        if result.outcome == "allocated":
            assert quantity <= free
            assert sum(r.quantity for r in result.reservations) == quantity
            self.held[order.order_id] = result.reservations
            self.status[order.order_id] = "ALLOCATED"
        else:
            assert result.outcome == "out_of_stock"
            assert quantity > free  # refused only when the warehouses together could not serve it
            self.status[order.order_id] = "REJECTED"
        return order.order_id

    @rule(order_id=orders, twice=st.booleans())
    def release(self, order_id: str, twice: bool) -> None:
        if self.status[order_id] in {"ALLOCATED", "CANCELLED"}:
            first = release_order(order_id, "property test", "test")
            expected = self.held.pop(order_id, [])
            assert sorted(r.quantity for r in first.released) == sorted(r.quantity for r in expected)
            self.status[order_id] = "CANCELLED"
            if twice:
                assert release_order(order_id, "again", "test").released == []
        else:
            with pytest.raises(IllegalTransitionError):
                release_order(order_id, "property test", "test")

    @rule(order_id=orders)
    def ship(self, order_id: str) -> None:
        if self.status[order_id] in {"ALLOCATED", "SHIPPED"}:
            shipped = ship_order(order_id, None)
            for r in self.held.pop(order_id, []):
                self.on_hand[r.warehouse] -= r.quantity
            assert sum(line.quantity for s in shipped.shipments for line in s.lines) > 0
            self.status[order_id] = "SHIPPED"
        else:
            with pytest.raises(IllegalTransitionError):
                ship_order(order_id, None)

    @rule(warehouse=st.sampled_from(WAREHOUSES), change=st.integers(-4, 6))
    def restock_or_count(self, warehouse: str, change: int) -> None:
        target = max(self.reserved(warehouse), self.on_hand[warehouse] + change)
        self._sync(warehouse, target)

    @rule()
    def a_sync_delivered_again_changes_nothing(self) -> None:
        sync_id, warehouse, on_hand = self.syncs[-1]
        outcome = sync_stock(self.sku, StockSync(sync_id=sync_id, warehouse=warehouse, on_hand=on_hand))
        assert outcome.duplicate

    @invariant()
    def conserved(self) -> None:
        if not self.syncs:
            return
        audits = assert_conserved(self.sku)
        for warehouse in WAREHOUSES:
            counters = [a for a in audits if a.warehouse == warehouse]
            assert sum(a.on_hand for a in counters) == self.on_hand[warehouse]
            assert sum(a.reserved for a in counters) == self.reserved(warehouse)
            by_kind: dict[str, int] = {}
            for a in counters:
                for kind, delta in a.by_kind.items():
                    by_kind[kind] = by_kind.get(kind, 0) + delta
            initial_and_syncs = sum(v for k, v in by_kind.items() if k in {"initial", "restock", "adjust"})
            assert initial_and_syncs + by_kind.get("ship", 0) == self.on_hand[warehouse]


def test_random_interleavings_conserve_stock(oms):
    StockMachine.oms = oms
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            phases=[
                Phase.explicit,
                Phase.reuse,
                Phase.generate,
            ],  # a failure is reported as found, unshrunk: shrinking this machine takes minutes
        ),
    )


def test_a_failed_reservation_transaction_leaves_no_trace(oms):
    """All or nothing: the second line's counter refuses, so the first line's reservation is undone."""
    plenty, scarce = new_sku(), new_sku()
    oms.set_stock(plenty, 5)
    oms.set_stock(scarce, 1)
    order, event = stored_order(order_body([(plenty, 2), (scarce, 2)]), clock.now())
    assert repository.create_order(order, event)
    review_order(order.order_id, None)
    approved = repository.get_order(order.order_id)
    reservations = [
        Reservation(sku=plenty, warehouse="WH-MAIN", quantity=2),
        Reservation(sku=scarce, warehouse="WH-MAIN", quantity=2),
    ]
    with pytest.raises(TransactionRejected):
        repository.apply_changes(
            [OrderChange(approved, OrderStatus.ALLOCATED, "stock.reserved", "test")],
            repository.reserve_items(order.order_id, reservations),
        )
    assert oms.stock(plenty) == {"on_hand": 5, "reserved": 0, "available": 5}
    assert oms.stock(scarce) == {"on_hand": 1, "reserved": 0, "available": 1}
    assert repository.load_aggregate(order.order_id).reservations == []
    assert repository.get_order(order.order_id).status == "APPROVED"
    assert {m.kind for m in repository.stock_ledger(plenty)} == {"initial"}
    assert_conserved(plenty)
    assert_conserved(scarce)
