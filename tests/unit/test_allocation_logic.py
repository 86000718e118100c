"""Sourcing, pure: which warehouses serve an order, shards of hot SKUs, short stock, merge keys.

(The planner's signature changed with the sourcing engine: a SourcingPolicy instead of one preferred
warehouse, and a short plan no longer carries partial reservations. The cases of the first planner are
kept below, adjusted where the behaviour deliberately changed: a line may now be split by quantity
across warehouses when splitting is allowed.)
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.allocate.logic import (
    BackorderPolicy,
    BelowReservedError,
    Destination,
    SourcingPolicy,
    assign_shards,
    decide_short,
    distribute_on_hand,
    merge_key,
    merge_wait_seconds,
    plan_allocation,
    rank_warehouses,
    shard_order,
)
from functions.core.models.order_in import Address, OrderLine
from functions.core.models.orders import ShortLine
from functions.core.models.stock import Reservation, StockLevel

PREFERRED = "WH-MAIN"
POLICY = SourcingPolicy(warehouse_priority=[PREFERRED])
NO_SPLIT = SourcingPolicy(warehouse_priority=[PREFERRED], allow_split=False)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ol(sku: str, quantity: int, virtual: bool = False) -> OrderLine:
    return OrderLine(sku=sku, quantity=quantity, unit_price="1.00", virtual=virtual)


def level(sku: str, warehouse: str, available: int, reserved: int = 0) -> StockLevel:
    return StockLevel(
        sku=sku, warehouse=warehouse, on_hand=available + reserved, reserved=reserved, available=available
    )


def res(sku: str, warehouse: str, quantity: int) -> Reservation:
    return Reservation(sku=sku, warehouse=warehouse, quantity=quantity)


# ---------------------------------------------------------------- the first planner's cases


def test_preferred_warehouse_wins_when_it_can_serve_the_line():
    stock = {"A": [level("A", "WH-BIG", 100), level("A", PREFERRED, 3)]}
    plan = plan_allocation([ol("A", 3)], stock, POLICY)
    assert plan.complete
    assert plan.reservations == [res("A", PREFERRED, 3)]


def test_falls_back_to_the_warehouse_with_most_available():
    stock = {"A": [level("A", PREFERRED, 2), level("A", "WH-SMALL", 6), level("A", "WH-BIG", 9)]}
    plan = plan_allocation([ol("A", 5)], stock, POLICY)
    assert plan.reservations == [res("A", "WH-BIG", 5)]
    assert plan.short == []


def test_tie_between_fallbacks_is_broken_by_warehouse_name():
    stock = {"A": [level("A", "WH-Z", 7), level("A", "WH-B", 7)]}
    plan = plan_allocation([ol("A", 1)], stock, POLICY)
    assert plan.reservations[0].warehouse == "WH-B"


def test_only_available_counts_not_on_hand():
    stock = {"A": [level("A", PREFERRED, available=1, reserved=50)]}
    plan = plan_allocation([ol("A", 2)], stock, POLICY)
    assert plan.outcome == "short"
    assert plan.short == [ShortLine(sku="A", requested=2, available=1)]
    assert plan.reservations == []


def test_exactly_enough_is_enough():
    plan = plan_allocation([ol("A", 4)], {"A": [level("A", PREFERRED, 4)]}, POLICY)
    assert plan.complete
    assert plan.reservations[0].quantity == 4


def test_sku_without_any_stock_row_is_short():
    plan = plan_allocation([ol("GHOST", 1)], {}, POLICY)
    assert not plan.complete
    assert plan.short == [ShortLine(sku="GHOST", requested=1, available=0)]


def test_a_line_is_split_across_warehouses_when_splitting_is_allowed():
    # behaviour change: this line used to be short; two warehouses together have it.
    stock = {"A": [level("A", PREFERRED, 3), level("A", "WH-B", 3)]}
    plan = plan_allocation([ol("A", 5)], stock, POLICY)
    assert plan.complete
    assert plan.split
    assert plan.reservations == [res("A", PREFERRED, 3), res("A", "WH-B", 2)]


def test_a_line_is_not_split_when_splitting_is_off():
    stock = {"A": [level("A", PREFERRED, 3), level("A", "WH-B", 3)]}
    plan = plan_allocation([ol("A", 5)], stock, NO_SPLIT)
    assert plan.outcome == "needs_split"
    assert plan.reservations == []


def test_every_short_sku_is_listed_and_nothing_is_reserved():
    stock = {"A": [level("A", PREFERRED, 10)], "B": [level("B", "WH-B", 5)], "C": [level("C", PREFERRED, 1)]}
    plan = plan_allocation([ol("A", 2), ol("B", 5), ol("C", 2), ol("D", 1)], stock, POLICY)
    assert plan.outcome == "short"
    assert plan.short == [
        ShortLine(sku="C", requested=2, available=1),
        ShortLine(sku="D", requested=1, available=0),
    ]
    assert plan.reservations == []


def test_lines_from_different_warehouses_when_no_single_one_has_both():
    stock = {"A": [level("A", PREFERRED, 10)], "B": [level("B", "WH-B", 5)]}
    plan = plan_allocation([ol("A", 2), ol("B", 5)], stock, POLICY)
    assert plan.reservations == [res("A", PREFERRED, 2), res("B", "WH-B", 5)]
    assert plan.warehouses == ["WH-B", PREFERRED]  # sorted


# ---------------------------------------------------------------- sourcing rules


def test_one_warehouse_with_everything_beats_a_preferred_split():
    stock = {
        "A": [level("A", PREFERRED, 5), level("A", "WH-FAR", 5)],
        "B": [level("B", "WH-FAR", 5)],
    }
    plan = plan_allocation([ol("A", 1), ol("B", 1)], stock, POLICY)
    assert plan.reservations == [res("A", "WH-FAR", 1), res("B", "WH-FAR", 1)]
    assert not plan.split


def test_warehouse_serving_the_region_is_preferred_over_priority():
    policy = SourcingPolicy(warehouse_priority=[PREFERRED], warehouse_regions={"WH-EAST": ["SH", "JS"]})
    stock = {"A": [level("A", PREFERRED, 9), level("A", "WH-EAST", 9), level("A", "WH-WEST", 9)]}
    in_shanghai = plan_allocation([ol("A", 2)], stock, policy, Destination(region="SH", country="CN"))
    in_sichuan = plan_allocation([ol("A", 2)], stock, policy, Destination(region="SC", country="CN"))
    assert in_shanghai.warehouses == ["WH-EAST"]
    assert in_sichuan.warehouses == [PREFERRED]


def test_a_region_can_be_a_whole_country():
    policy = SourcingPolicy(warehouse_regions={"WH-HK": ["HK"]})
    stock = {"A": [level("A", "WH-CN", 9), level("A", "WH-HK", 9)]}
    assert plan_allocation([ol("A", 1)], stock, policy, Destination(country="HK")).warehouses == ["WH-HK"]


def test_priority_order_among_listed_warehouses():
    policy = SourcingPolicy(warehouse_priority=["WH-2", "WH-1"])
    stock = {"A": [level("A", "WH-1", 9), level("A", "WH-2", 9)]}
    assert plan_allocation([ol("A", 1)], stock, policy).warehouses == ["WH-2"]


def test_fewest_shipments_even_when_the_preferred_warehouse_could_take_part():
    # three lines; MAIN has A only, X has B only, Y has B and C: two warehouses (MAIN + Y) suffice.
    stock = {
        "A": [level("A", PREFERRED, 1)],
        "B": [level("B", "WH-X", 1), level("B", "WH-Y", 1)],
        "C": [level("C", "WH-Y", 1)],
    }
    plan = plan_allocation([ol("A", 1), ol("B", 1), ol("C", 1)], stock, POLICY)
    assert plan.warehouses == [PREFERRED, "WH-Y"]


def test_virtual_lines_need_no_stock():
    plan = plan_allocation([ol("GIFT-CARD", 3, virtual=True)], {}, POLICY)
    assert plan.complete
    assert plan.reservations == []
    mixed = plan_allocation(
        [ol("GIFT-CARD", 1, virtual=True), ol("A", 2)], {"A": [level("A", PREFERRED, 2)]}, POLICY
    )
    assert mixed.reservations == [res("A", PREFERRED, 2)]


def test_ranking_is_region_then_priority_then_most_of_the_order():
    policy = SourcingPolicy(warehouse_priority=["P1"], warehouse_regions={"R": ["SH"]})
    available = {("A", "P1"): 1, ("A", "R"): 1, ("A", "BIG"): 10, ("A", "SMALL"): 2}
    ranked = rank_warehouses(
        ["BIG", "P1", "R", "SMALL"], {"A": 5}, available, policy, Destination("SH", "CN")
    )
    assert ranked == ["R", "P1", "BIG", "SMALL"]


stock_strategy = st.dictionaries(
    st.tuples(st.sampled_from("ABC"), st.sampled_from(["W1", "W2", "W3", "W4"])),
    st.integers(0, 6),
    max_size=12,
)
need_strategy = st.dictionaries(st.sampled_from("ABC"), st.integers(1, 8), min_size=1)


@settings(max_examples=300, deadline=None)
@given(available=stock_strategy, need=need_strategy, allow_split=st.booleans())
def test_plans_never_take_more_than_there_is_and_use_the_fewest_warehouses(available, need, allow_split):
    stock = {sku: [level(sku, wh, a) for (s, wh), a in available.items() if s == sku] for sku in "ABC"}
    lines = [ol(sku, q) for sku, q in need.items()]
    plan = plan_allocation(lines, stock, SourcingPolicy(allow_split=allow_split))
    totals = {sku: sum(a for (s, _), a in available.items() if s == sku) for sku in need}
    if any(totals[sku] < q for sku, q in need.items()):
        assert plan.outcome == "short"
        assert {s.sku for s in plan.short} == {sku for sku, q in need.items() if totals[sku] < q}
        return
    warehouses = sorted({wh for _, wh in available})
    covering = [
        size
        for size in range(1, len(warehouses) + 1)
        for subset in itertools.combinations(warehouses, size)
        if all(sum(available.get((sku, wh), 0) for wh in subset) >= q for sku, q in need.items())
    ]
    if not allow_split and min(covering) > 1:
        assert plan.outcome == "needs_split"
        return
    assert plan.complete
    taken: dict[tuple[str, str], int] = {}
    for r in plan.reservations:
        taken[(r.sku, r.warehouse)] = taken.get((r.sku, r.warehouse), 0) + r.quantity
    assert all(q <= available.get(key, 0) for key, q in taken.items())
    assert {sku: sum(q for (s, _), q in taken.items() if s == sku) for sku in need} == need
    assert len(plan.warehouses) == min(covering)


# ---------------------------------------------------------------- hot SKU shards


def test_shard_order_starts_at_a_hash_and_visits_every_shard_once():
    orders = {tuple(shard_order(f"ord-{i}", 4, 6)) for i in range(50)}
    assert len({o[0] for o in orders}) == 4  # starts spread over the active shards
    for order in orders:
        assert sorted(order) == list(range(6))
        assert order[4:] == (4, 5)  # retired shards last


def test_assign_takes_from_one_shard_when_it_can():
    taken = assign_shards("ord-1", 2, [5, 5, 5, 5], active=4)
    assert taken is not None
    assert list(taken.values()) == [2]


def test_assign_spills_over_when_a_shard_runs_dry_and_fails_only_when_all_do():
    start = shard_order("ord-x", 3, 3)[0]
    available = [0, 0, 0]
    available[start] = 1
    available[(start + 1) % 3] = 4
    assert assign_shards("ord-x", 3, available, active=3) == {str(start): 1, str((start + 1) % 3): 2}
    assert assign_shards("ord-x", 6, available, active=3) is None


@settings(max_examples=200, deadline=None)
@given(available=st.lists(st.integers(0, 5), min_size=1, max_size=6), quantity=st.integers(1, 12))
def test_assigned_shards_add_up_and_never_overdraw(available, quantity):
    taken = assign_shards("ord-p", quantity, available, active=len(available))
    if sum(available) < quantity:
        assert taken is None
        return
    assert taken is not None
    assert sum(taken.values()) == quantity
    assert all(0 < q <= available[int(shard)] for shard, q in taken.items())


def test_distribute_spreads_free_stock_over_active_shards_and_keeps_reservations():
    assert distribute_on_hand(10, [], 1) == [10]
    assert distribute_on_hand(10, [], 4) == [3, 3, 2, 2]
    assert distribute_on_hand(10, [2, 0, 1], 3) == [2 + 3, 0 + 2, 1 + 2]
    # a shard beyond the active count keeps only what it holds
    assert distribute_on_hand(10, [0, 0, 0, 3], 2) == [4, 3, 0, 3]


def test_distribute_refuses_less_than_is_reserved():
    with pytest.raises(BelowReservedError, match="below the 5 units already reserved"):
        distribute_on_hand(4, [3, 2], 2)


@settings(max_examples=200, deadline=None)
@given(
    target=st.integers(0, 100),
    reserved=st.lists(st.integers(0, 10), max_size=5),
    active=st.integers(1, 6),
)
def test_distribute_adds_up_and_never_undercuts_a_reservation(target, reserved, active):
    if target < sum(reserved):
        with pytest.raises(BelowReservedError):
            distribute_on_hand(target, reserved, active)
        return
    spread = distribute_on_hand(target, reserved, active)
    assert sum(spread) == target
    assert len(spread) == max(len(reserved), active)
    assert all(spread[k] >= r for k, r in enumerate(reserved))
    free = [spread[k] - (reserved[k] if k < len(reserved) else 0) for k in range(active)]
    assert max(free) - min(free) <= 1


# ---------------------------------------------------------------- short stock


SHORT = plan_allocation([ol("A", 5)], {"A": [level("A", PREFERRED, 1)]}, POLICY)


def test_reject_rule_rejects_with_the_numbers():
    decision = decide_short(
        SHORT, BackorderPolicy(out_of_stock="reject"), backordered_since=None, attempts=0, now=NOW
    )
    assert decision.action == "reject"
    assert decision.reason.code == "OUT_OF_STOCK"
    assert decision.reason.message == "A (need 5, available 1)"


def test_backorder_rule_waits_the_retry_interval():
    policy = BackorderPolicy(out_of_stock="backorder", retry_minutes=30, max_hours=2)
    decision = decide_short(SHORT, policy, backordered_since=None, attempts=0, now=NOW)
    assert decision.action == "wait"
    assert decision.reason.code == "BACKORDERED"
    assert decision.wait_seconds == 1800


def test_backorder_wait_never_passes_the_deadline_and_expires_there():
    policy = BackorderPolicy(out_of_stock="backorder", retry_minutes=30, max_hours=2)
    since = NOW - timedelta(hours=1, minutes=50)
    assert decide_short(SHORT, policy, backordered_since=since, attempts=3, now=NOW).wait_seconds == 600
    expired = decide_short(SHORT, policy, backordered_since=NOW - timedelta(hours=2), attempts=4, now=NOW)
    assert expired.action == "reject"
    assert expired.reason.code == "BACKORDER_EXPIRED"
    assert "A (need 5, available 1)" in expired.reason.message


def test_backorder_gives_up_after_max_attempts():
    policy = BackorderPolicy(out_of_stock="backorder", max_attempts=3)
    assert decide_short(SHORT, policy, backordered_since=NOW, attempts=2, now=NOW).action == "wait"
    assert decide_short(SHORT, policy, backordered_since=NOW, attempts=3, now=NOW).action == "reject"


def test_unsplittable_orders_wait_even_under_the_reject_rule():
    needs_split = plan_allocation(
        [ol("A", 5)], {"A": [level("A", PREFERRED, 3), level("A", "WH-B", 3)]}, NO_SPLIT
    )
    decision = decide_short(
        needs_split, BackorderPolicy(out_of_stock="reject"), backordered_since=None, attempts=0, now=NOW
    )
    assert decision.action == "wait"
    assert decision.reason.code == "SPLIT_NOT_ALLOWED"


# ---------------------------------------------------------------- 合单


def address(**overrides: str) -> Address:
    base = {
        "name": "Li Lei",
        "phone": "+86 138 0000 0000",
        "line1": "1 Nanjing Rd",
        "city": "Shanghai",
        "region": "SH",
        "postal_code": "200000",
        "country": "CN",
    }
    return Address.model_validate({**base, **overrides})


def test_merge_key_ignores_case_and_spacing_but_not_the_buyer_or_address():
    key = merge_key("tmall", "buyer-1", address())
    assert key == merge_key("tmall", "buyer-1", address(line1="1  NANJING rd"))
    assert key != merge_key("tmall", "buyer-2", address())
    assert key != merge_key("jd", "buyer-1", address())
    assert key != merge_key("tmall", "buyer-1", address(line1="2 Nanjing Rd"))
    assert "Nanjing" not in key
    assert len(key) == 32


def test_merge_wait_counts_down_to_the_close():
    assert merge_wait_seconds(NOW + timedelta(seconds=90.2), NOW) == 91
    assert merge_wait_seconds(NOW - timedelta(seconds=5), NOW) == 0
