"""Pinduoduo's pull (pdd.order.number.list.increment.get, 30-minute windows): a pushed order found again
is one order; an order whose push was lost is captured; the 30-minute limit is respected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from functions.connectors.common import CHINA
from functions.connectors.mapping import our_order_id
from tests.connectors.channel_support import fresh_id
from tests.connectors.harnesses import Pinduoduo
from tests.factories import new_sku


def _pull(stack: Any) -> dict[str, Any]:
    return stack.runtime.invoke("ChannelPullFunction", {"source": "aws.events"})  # type: ignore[no-any-return]


def test_pull_finds_lost_pushes_and_keeps_pushed_orders_single(oms, stack, fake):
    shop = Pinduoduo(oms, fake)
    body = {
        "secret": shop.secret,
        "app_key": shop.app_key,
        "access_token": shop.token,
        "native_shop_id": shop.native_shop,
        "api_base_url": f"{fake.url}/pdd/api/router",
        "pull": True,
    }
    assert oms.call("PUT", f"/channels/pinduoduo/shops/{shop.key}", body).status == 200
    sku_a, sku_b = new_sku("NB"), new_sku("PEN")
    oms.set_stock(sku_a, 10)
    oms.set_stock(sku_b, 10)
    orders = []
    for minutes_ago in (3, 50):  # the second is two 30-minute windows back
        order = shop.order(sku_a)
        order["item_list"][1]["outer_id"] = sku_b
        order["updated_at"] = (
            (oms.stack.clock.now() - timedelta(minutes=minutes_ago))
            .astimezone(CHINA)
            .strftime("%Y-%m-%d %H:%M:%S")
        )
        fake.put_pdd_order(shop.token, order)
        orders.append(order)
    pushed = shop.push(orders[0])
    assert pushed.status == 201, pushed.body

    result = _pull(stack)
    assert f"pinduoduo/{shop.key}" not in result["failed"]
    ids = [our_order_id("pinduoduo", shop.key, o["order_sn"]) for o in orders]
    assert oms.get(ids[1]).status == 200  # its push was lost; the pull captured it
    for order_id in ids:
        assert len(oms.executions_named(order_id)) == 1
    windows = list(fake.received("pdd.order.number.list.increment.get"))
    assert len(windows) >= 48  # a first pull looks back a day, 30 minutes at a time

    late = {**orders[1], "order_sn": f"260101-{fresh_id(15)}", "updated_at": orders[0]["updated_at"]}
    fake.put_pdd_order(shop.token, late)  # indexed late by the platform: inside the 5-minute overlap
    again = _pull(stack)  # the cursor moved on: only the recent window is read again
    assert f"pinduoduo/{shop.key}" not in again["failed"]
    assert len(fake.received("pdd.order.number.list.increment.get")) - len(windows) <= 2
    assert oms.get(our_order_id("pinduoduo", shop.key, late["order_sn"])).status == 200
