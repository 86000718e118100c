"""Tmall (TOP) end to end on the local stack: a trade pushed and then found again by the scheduled pull
is one order; a trade whose push was lost is captured by the pull; shipping answers with TOP's 发货."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from functions.connectors import top
from functions.connectors.mapping import our_order_id
from oms.local.fake_platform import FakePlatform, top_push_query
from tests.connectors.channel_support import fixture, fresh_id, new_secret, raw
from tests.factories import new_sku


class TmallShop:
    def __init__(self, oms: Any, fake: FakePlatform) -> None:
        self.oms, self.fake = oms, fake
        self.key = f"tm-{uuid.uuid4().hex[:10]}"
        self.nick = f"旗舰店{uuid.uuid4().hex[:6]}"
        self.app_key, self.secret, self.session = str(fresh_id(8)), new_secret(), "6100" + uuid.uuid4().hex
        fake.add_top_app(self.app_key, self.secret, self.session, self.nick)
        body = {
            "secret": self.secret,
            "app_key": self.app_key,
            "access_token": self.session,
            "native_shop_id": self.nick,
            "api_base_url": f"{fake.url}/top/router/rest",
            "pull": True,
        }
        response = oms.call("PUT", f"/channels/tmall/shops/{self.key}", body)
        assert response.status == 200, response.body
        assert self.secret not in response.body
        assert self.session not in response.body

    def trade(self, sku_a: str, minutes_ago: int = 1) -> dict[str, Any]:
        document = fixture("tmall_trade.json", SKU_A=sku_a, SELLER_NICK=self.nick)
        trade = document["trade_fullinfo_get_response"]["trade"]
        trade["tid"] = fresh_id(19)
        for order in trade["orders"]["order"]:
            order["oid"] = fresh_id(19)
        at = top.timestamp(self.oms.stack.clock.now() - timedelta(minutes=minutes_ago))
        trade["created"] = trade["modified"] = trade["pay_time"] = at
        return document

    def push(self, document: Any, topic: str = "taobao_trade_TradeCreate", secret: str | None = None) -> Any:
        body = raw(document)
        query = top_push_query(self.app_key, secret or self.secret, topic, body, self.oms.stack.clock.now())
        return self.oms.anonymous().call(
            "POST", f"/channels/tmall/webhooks?{urlencode(query)}", body.decode()
        )

    def map_bag(self, document: Any) -> str:
        bag = document["trade_fullinfo_get_response"]["trade"]["orders"]["order"][1]
        sku = new_sku("BAG")
        self.oms.set_stock(sku, 10)
        mapping = {"mappings": [{"item_id": str(bag["num_iid"]), "sku_id": bag["sku_id"], "sku": sku}]}
        response = self.oms.as_role("ops").call("PUT", f"/channels/tmall/shops/{self.key}/sku-map", mapping)
        assert response.status == 200, response.body
        return sku


@pytest.fixture
def shop(oms: Any, fake: FakePlatform) -> TmallShop:
    return TmallShop(oms, fake)


def _pull(stack: Any) -> dict[str, Any]:
    answer = stack.runtime.invoke(
        "ChannelPullFunction", {"source": "aws.events", "detail-type": "Scheduled Event"}
    )
    return answer if isinstance(answer, dict) else json.loads(answer)


def test_a_pushed_trade_found_again_by_the_pull_is_one_order(oms, stack, shop, fake):
    sku_a = new_sku("TEE")
    oms.set_stock(sku_a, 10)
    pushed = shop.trade(sku_a)
    shop.map_bag(pushed)
    response = shop.push(pushed)
    assert response.status == 201, response.body
    order_id = response.json()["order_id"]
    tid = str(pushed["trade_fullinfo_get_response"]["trade"]["tid"])
    assert order_id == our_order_id("tmall", shop.key, tid)
    order = oms.order(order_id)
    assert order["platform"] == "tmall"
    assert order["amounts"]["total"] == "243.00"
    assert order["amounts"]["discount"] == "15.00"
    assert order["shipping_address"]["region"] == "浙江省"

    lost = shop.trade(sku_a, minutes_ago=2)  # its push never arrived
    shop.map_bag(lost)
    fake.put_trade(pushed["trade_fullinfo_get_response"]["trade"])
    fake.put_trade(lost["trade_fullinfo_get_response"]["trade"])
    result = _pull(stack)
    assert result["found"] >= 2
    assert f"tmall/{shop.key}" not in result["failed"]  # (other tests' shops point at stopped fakes)
    lost_id = our_order_id("tmall", shop.key, str(lost["trade_fullinfo_get_response"]["trade"]["tid"]))
    assert oms.order(lost_id)["status"]  # captured by the pull
    assert len(oms.executions_named(order_id)) == 1  # the pull did not start a second workflow
    assert len(oms.executions_named(lost_id)) == 1

    stack.wait_for_execution(order["execution_arn"])
    shipped = oms.order(order_id)
    assert shipped["status"] == "SHIPPED"
    stack.run_until(lambda: any(c["tid"] == tid for c in fake.received("taobao.logistics.offline.send")))
    (send,) = [c for c in fake.received("taobao.logistics.offline.send") if c["tid"] == tid]
    assert send["out_sid"] == shipped["shipments"][0]["tracking_number"]

    again = _pull(stack)  # the shipped trade, seen again: still one order, nothing changes
    assert f"tmall/{shop.key}" not in again["failed"]
    assert len(oms.executions_named(order_id)) == 1
    assert oms.order(order_id)["status"] == "SHIPPED"


def test_top_signature_good_bad_stale(oms, stack, shop):
    document = shop.trade(new_sku())
    forged = shop.push(document, secret=new_secret())
    assert forged.status == 401
    assert forged.json()["error"]["code"] == "BAD_SIGNATURE"
    body = raw(document)
    old = oms.stack.clock.now() - timedelta(minutes=30)
    query = top_push_query(shop.app_key, shop.secret, "taobao_trade_TradeCreate", body, old)
    stale = oms.anonymous().call("POST", f"/channels/tmall/webhooks?{urlencode(query)}", body.decode())
    assert stale.status == 401
    assert stale.json()["error"]["code"] == "STALE_SIGNATURE"
    tid = str(document["trade_fullinfo_get_response"]["trade"]["tid"])
    assert oms.get(our_order_id("tmall", shop.key, tid)).status == 404


def test_buyer_refund_before_shipment_intercepts_and_address_change_updates(oms, stack, shop):
    sku_a = new_sku("TEE")
    oms.set_stock(sku_a, 10)
    document = shop.trade(sku_a)
    trade = document["trade_fullinfo_get_response"]["trade"]
    trade["buyer_message"] = "请周末送货"  # a buyer remark holds the order in review: not shipped yet
    shop.map_bag(document)
    created = shop.push(document)
    assert created.status == 201, created.body
    order_id = created.json()["order_id"]
    stack.run_until(lambda: oms.order(order_id)["status"] in ("ON_HOLD", "SHIPPED"))
    assert oms.order(order_id)["status"] == "ON_HOLD"

    trade["receiver_address"] = "文一西路1000号"
    trade["modified"] = top.timestamp(oms.stack.clock.now())
    moved = shop.push(document, topic="taobao_trade_TradeLogisticsAddressChanged")
    assert moved.status == 200, moved.body
    assert moved.json()["outcome"] == "updated"
    assert oms.order(order_id)["shipping_address"]["line1"].endswith("文一西路1000号")

    refund = {
        "tid": trade["tid"],
        "oid": trade["orders"]["order"][0]["oid"],
        "refund_id": fresh_id(15),
        "seller_nick": shop.nick,
        "refund_fee": "188.00",
        "modified": trade["modified"],
    }
    response = shop.push(refund, topic="taobao_refund_RefundCreated")
    assert response.status == 200, response.body
    assert response.json()["outcome"] == "intercepted"
    stack.run_until(lambda: oms.order(order_id)["status"] == "CANCELLED")
    assert oms.stock(sku_a)["reserved"] == 0


def test_malformed_trade_names_the_top_field_and_writes_nothing(oms, stack, shop):
    document = shop.trade(new_sku())
    trade = document["trade_fullinfo_get_response"]["trade"]
    del trade["receiver_name"]
    trade["orders"]["order"][0]["num"] = "two"
    response = shop.push(document)
    assert response.status == 422, response.body
    assert [f["field"] for f in response.json()["error"]["fields"]] == [
        "trade_fullinfo_get_response.trade.receiver_name",
        "trade_fullinfo_get_response.trade.orders.order.0.num",
    ]
    assert oms.get(our_order_id("tmall", shop.key, str(trade["tid"]))).status == 404
