"""Line changes, pure: the refund of cancelled units, the reserved units given back per shard, where
more units come from, and what is refused (functions/changes/lines.py, growth.py, split.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.changes.growth import plan_growth
from functions.changes.lines import LineQuantityIn, LinesChangeIn, cut_reservations, plan_lines_change
from functions.changes.split import SplitIn, plan_split
from functions.core.errors import RefusedError
from functions.core.models.stock import Reservation, StockShard
from tests.factories import order_body, stored_order

AT = datetime(2026, 5, 1, tzinfo=UTC)


def _order(lines, **kwargs):
    order, _ = stored_order(order_body(lines, **kwargs), AT)
    return order


def _request(**quantities: int) -> LinesChangeIn:
    return LinesChangeIn(
        lines=[LineQuantityIn(sku=sku, quantity=q) for sku, q in quantities.items()],
        reason="r",
        reference="c-1",
    )


def test_cancelled_units_refund_their_share_of_what_was_paid_to_the_cent():
    order = _order([("A", 3, "45.00"), ("B", 2, "12.50")], shipping="6.00", discount="5.00")  # 161.00
    plan = plan_lines_change(order, [], _request(A=2))
    assert plan.refund == Decimal("45.28")  # A's share 135.84, one unit of three rounded down
    assert plan.amounts == order.amounts  # paid: the amounts stay what was sold
    everything = plan_lines_change(order, [], _request(A=0, B=0))
    assert (everything.cancels_order, everything.refund) == (True, Decimal("161.00"))


def test_an_unpaid_order_owes_the_recomputed_total_and_never_less_than_zero():
    order = _order([("A", 2, "20.00"), ("B", 1, "15.00")], shipping="5.00", payment={"status": "unpaid"})
    plan = plan_lines_change(order, [], _request(B=0))
    assert (plan.refund, plan.amounts.subtotal, plan.amounts.total) == (
        None,
        Decimal("40.00"),
        Decimal("45.00"),
    )
    discounted = _order([("A", 1, "20.00"), ("B", 1, "5.00")], discount="10.00", payment={"status": "unpaid"})
    with pytest.raises(RefusedError) as refused:
        plan_lines_change(discounted, [], _request(A=0))
    assert refused.value.code == "DISCOUNT_ABOVE_LINES"


def test_units_leave_the_last_warehouse_and_highest_shard_first():
    main = Reservation(sku="A", warehouse="WH-MAIN", quantity=3, shards={"0": 1, "1": 2})
    east = Reservation(sku="A", warehouse="WH-EAST", quantity=1)
    cuts = cut_reservations([east, main], 3)
    assert [(c.released.warehouse, c.released.quantity, c.released.shards) for c in cuts] == [
        ("WH-MAIN", 3, {"1": 2, "0": 1})
    ]
    assert cuts[0].after is None
    partial = cut_reservations([east, main], 2)
    assert partial[0].after == Reservation(sku="A", warehouse="WH-MAIN", quantity=1, shards={"0": 1})


def test_a_paid_order_may_not_grow_and_unknown_lines_are_named():
    order = _order([("A", 1, "10.00")])
    for request, code in ((_request(A=2), "PAID_ORDER_INCREASE"), (_request(Z=1), "UNKNOWN_LINE")):
        with pytest.raises(RefusedError) as refused:
            plan_lines_change(order, [], request)
        assert refused.value.code == code
    with pytest.raises(RefusedError) as same:
        plan_lines_change(order, [], _request(A=1))
    assert same.value.code == "NOTHING_TO_CHANGE"


def _shard(warehouse: str, shard: int, available: int, active: int = 1) -> StockShard:
    return StockShard(
        sku="A",
        warehouse=warehouse,
        shard=shard,
        on_hand=available,
        reserved=0,
        available=available,
        active=active,
    )


def test_more_units_come_from_the_orders_own_warehouse_first_or_are_refused_naming_the_sku():
    mine = [Reservation(sku="B", warehouse="WH-EAST", quantity=1)]
    shards = {"A": [_shard("WH-MAIN", 0, 9), _shard("WH-EAST", 0, 2)]}
    growth = plan_growth({"A": 3}, mine, shards, ["WH-MAIN"])
    assert [(g.added.warehouse, g.added.quantity) for g in growth] == [("WH-EAST", 2), ("WH-MAIN", 1)]
    hot = {"A": [_shard("WH-MAIN", 0, 1, active=2), _shard("WH-MAIN", 1, 2)]}
    (spread,) = plan_growth({"A": 3}, [], hot, ["WH-MAIN"])
    assert spread.added.shards == {"0": 1, "1": 2}
    with pytest.raises(RefusedError) as short:
        plan_growth({"A": 12}, mine, shards, ["WH-MAIN"])
    assert (short.value.code, short.value.fields[0]["sku"]) == ("OUT_OF_STOCK", "A")


def test_a_split_moves_whole_lines_into_the_next_group_and_keeps_one_behind():
    order = _order([("A", 1, "10.00"), ("B", 2, "5.00")])
    held = [
        Reservation(sku="A", warehouse="WH-MAIN", quantity=1),
        Reservation(sku="B", warehouse="WH-MAIN", quantity=2),
    ]
    group, moving = plan_split(order, held, SplitIn(skus=["B"], reason="r", reference="s-1"))
    assert (group, [r.sku for r in moving]) == (2, ["B"])
    for skus, code in ((["A", "B"], "NOTHING_LEFT"), (["Z"], "UNKNOWN_LINE")):
        with pytest.raises(RefusedError) as refused:
            plan_split(order, held, SplitIn(skus=skus, reason="r", reference="s-2"))
        assert refused.value.code == code
    with pytest.raises(RefusedError) as early:
        plan_split(order, [], SplitIn(skus=["B"], reason="r", reference="s-3"))
    assert early.value.code == "NOT_ALLOCATED"


def test_a_bundle_component_line_keeps_its_exact_value_per_unit_left():
    order = _order([("A", 3, "10.00"), ("B", 1, "5.00")], payment={"status": "unpaid"})
    bundled = order.lines[0].model_copy(
        update={"unit_price": Decimal("11.11"), "line_total": Decimal("33.34")}
    )
    order = order.model_copy(
        update={
            "lines": [bundled, order.lines[1]],
            "amounts": order.amounts.model_copy(
                update={"subtotal": Decimal("38.34"), "total": Decimal("38.34")}
            ),
        }
    )
    lowered = plan_lines_change(order, [], _request(A=2))
    # one of three units is worth 11.11 (33.34 / 3 rounded down): the two left keep 22.23
    assert (lowered.lines[0].amount, lowered.amounts.total) == (Decimal("22.23"), Decimal("27.23"))
    raised = plan_lines_change(order, [], _request(A=4))
    assert (raised.lines[0].amount, raised.amounts.total) == (Decimal("44.45"), Decimal("49.45"))
