"""Pre-sale (预售): an order with `ships_after` waits on a durable timer until that date (the stack's
virtual clock), then allocates and ships; nothing is reserved and nobody is asked before."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from functions.core import repository
from tests.e2e.stock_support import assert_conserved, eventually
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def test_a_presale_order_waits_until_its_date_then_ships(oms, stack):
    sku = new_sku("PRE")
    oms.set_stock(sku, 5)
    # Hours, not weeks: the local scheduler's minute sweeps fire on the way, one by one.
    ships_after = stack.clock.now() + timedelta(hours=3)
    posted = oms.post(order_body([(sku, 2)], flags={"ships_after": ships_after.isoformat()}))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]

    eventually(lambda: repository.get_wait_token(order_id), what="the pre-sale order parked")
    waiting = oms.order(order_id)
    assert waiting["status"] == "BACKORDERED"
    assert waiting["hold"] is None  # no person is asked: the date alone decides
    assert waiting["allocation"]["reason"]["code"] == "PRESALE"
    assert waiting["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}

    stack.advance((ships_after - stack.clock.now()).total_seconds() - 60)
    assert oms.order(order_id)["status"] == "BACKORDERED"  # a minute early: still waiting
    execution = oms.wait(posted.json()["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert stack.clock.now() >= ships_after
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    (shipment,) = order["shipments"]
    assert datetime.fromisoformat(shipment["created_at"]) >= ships_after
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
    assert_conserved(sku)


def test_a_ships_after_date_already_past_allocates_at_once(oms, stack):
    sku = new_sku("PRE")
    oms.set_stock(sku, 1)
    past = stack.clock.now() - timedelta(days=1)
    order, execution = oms.run(order_body([(sku, 1)], flags={"ships_after": past.isoformat()}))
    assert execution["status"] == "SUCCEEDED"
    assert order["status"] == "SHIPPED"
    assert "AwaitStock" not in oms.states_entered(order["execution_arn"])


def test_a_presale_order_a_month_out_waits_on_its_durable_timer_then_ships(oms, stack):
    """The wait is the AwaitStock task's own timeout (TimeoutSecondsPath), one durable timer: the clock
    jumps to the date in one step (schedules skipped on the way fire once), not sweep by sweep."""
    sku = new_sku("PRE")
    oms.set_stock(sku, 5)
    ships_after = stack.clock.now() + timedelta(days=30)
    posted = oms.post(order_body([(sku, 1)], flags={"ships_after": ships_after.isoformat()}))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    eventually(lambda: repository.get_wait_token(order_id), what="the pre-sale order parked")
    stack.settle()

    stack.clock.advance_to(ships_after - timedelta(minutes=1))
    stack.settle()
    waiting = oms.order(order_id)
    assert waiting["status"] == "BACKORDERED"  # 29 days, 23 hours and 59 minutes on: still waiting
    assert waiting["reservations"] == []

    stack.clock.advance_to(ships_after)
    execution = oms.wait(posted.json()["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    (shipment,) = order["shipments"]
    assert datetime.fromisoformat(shipment["created_at"]) >= ships_after
    assert oms.stock(sku) == {"on_hand": 4, "reserved": 0, "available": 4}
    assert_conserved(sku)
