"""Douyin 抖店: message pushes (消息推送), order details fetched with `order.orderDetail`, 发货 back.

Push (op.jinritemai.com, 消息推送): headers `app-id` (the app key) and `event-sign` = hex md5(app_key +
raw body + app_secret); the body is a list of messages `{"tag", "msg_id", "data"}` whose `data` is a
JSON string. Tags read here: 100 订单创建, 101 订单支付, 105 买家收货信息变更 (the order is then read
with order.orderDetail, since messages carry ids only), 106 订单取消, 200 买家发起售后申请. The shop is
`data.shop_id`. The answer acknowledges with `{"code": 0, "msg": "success"}`.
API calls (order.orderDetail, order.logisticsAdd): sign = hex HMAC-SHA256(app_secret, app_secret +
"app_key..method..param_json..timestamp..v2" + app_secret), `sign_method=hmac-sha256`. Amounts in 分.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationError

from functions.connectors import common
from functions.connectors.contract import (
    Credentials,
    Fulfilment,
    Native,
    NativeCall,
    NativeError,
    NativeLine,
    NativeOrder,
    Notice,
    Push,
    SignatureError,
)
from functions.core.models.order_in import Address, Buyer

PLATFORM = "douyin"
FETCH_TAGS = {"100": "created", "101": "paid", "105": "address changed"}
CANCEL_TAG, REFUND_TAG = "106", "200"
ACKNOWLEDGE = {"code": 0, "msg": "success"}
COMPANY_CODES = {"SF": "shunfeng", "ZTO": "zhongtong", "YTO": "yuantong", "STO": "shentong", "YUNDA": "yunda"}


class _Message(Native):
    tag: str = Field(min_length=1)
    msg_id: str = Field(min_length=1)
    data: str = Field(min_length=2)


class _Data(Native):
    p_id: int
    shop_id: int


class _Region(Native):
    name: str = ""


class _PostAddr(Native):
    province: _Region = _Region()
    city: _Region
    town: _Region = _Region()
    street: _Region = _Region()
    detail: str = Field(min_length=1)


class _SkuOrder(Native):
    order_id: str = Field(min_length=1)
    product_id: int
    sku_id: int
    out_sku_id: str | None = None
    code: str | None = None
    product_name: str | None = None
    goods_price: int = Field(ge=0)  # 分, per unit
    item_num: int = Field(ge=1, le=10_000)


class DouyinOrder(Native):
    order_id: str = Field(min_length=1, max_length=40)
    shop_id: int
    order_status: int  # 1 待确认/待支付, 2 备货中, 3 已发货, 4 已取消, 5 已完成
    create_time: int
    update_time: int | None = None
    pay_time: int | None = None
    pay_amount: int = Field(ge=0)
    post_amount: int = Field(default=0, ge=0)
    buyer_words: str | None = None
    doudian_open_id: str | None = None
    post_receiver: str = Field(min_length=1)
    post_tel: str = Field(min_length=5)
    post_addr: _PostAddr
    sku_order_list: list[_SkuOrder] = Field(min_length=1, max_length=100)


class _Detail(Native):
    shop_order_detail: DouyinOrder


class DetailAnswer(Native):
    code: int
    msg: str = ""
    data: _Detail | None = None


def api_sign(app_key: str, secret: str, method: str, param_json: str, timestamp: str) -> str:
    text = f"{secret}app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v2{secret}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def push_sign(app_key: str, secret: str, raw: bytes) -> str:
    return hashlib.md5(app_key.encode() + raw + secret.encode()).hexdigest()  # noqa: S324 - documented scheme


def api_call(credentials: Credentials, method: str, business: Mapping[str, Any], now: datetime) -> NativeCall:
    param_json = json.dumps(business, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    timestamp = common.china_timestamp(now)
    query = {
        "app_key": credentials.app_key,
        "method": method,
        "access_token": credentials.access_token,
        "param_json": param_json,
        "timestamp": timestamp,
        "v": "2",
        "sign_method": "hmac-sha256",
        "sign": api_sign(credentials.app_key, credentials.secret, method, param_json, timestamp),
    }
    return NativeCall(
        "POST",
        "/" + method.replace(".", "/"),
        param_json.encode(),
        {"Content-Type": "application/json"},
        query=query,
        name=method,
    )


class DouyinConnector:
    platform = PLATFORM
    pullable = False
    acknowledge = ACKNOWLEDGE

    def _messages(self, raw: bytes) -> list[tuple[_Message, _Data]]:
        document = common.load_json(PLATFORM, raw)
        if not isinstance(document, list) or not document:
            raise NativeError.field("body", "a 抖店 push is a non-empty list of messages")
        found = []
        for index, entry in enumerate(document):
            message = common.validate(_Message, PLATFORM, entry, prefix=f"{index}.")
            data = common.validate(
                _Data, PLATFORM, common.load_json(PLATFORM, message.data.encode()), prefix=f"{index}.data."
            )
            found.append((message, data))
        if len({data.shop_id for _, data in found}) != 1:
            raise NativeError.field("data.shop_id", "one push carries messages of one shop")
        return found

    def shop_of(self, push: Push) -> str:
        return str(self._messages(push.raw)[0][1].shop_id)

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        if push.header("app-id") != credentials.app_key:
            raise SignatureError("BAD_SIGNATURE", "app-id is not this shop's app")
        common.require_signature(
            push.header("event-sign"),
            push_sign(credentials.app_key, credentials.secret, push.raw),
            "event-sign",
        )

    def parse(self, push: Push) -> Notice:
        """The push's one message (抖店 batches messages of many orders only in bulk mode, not used here)."""
        messages = self._messages(push.raw)
        if len(messages) != 1:
            raise NativeError.field("body", "send one message per push")
        message, data = messages[0]
        native_id = str(data.p_id)
        if message.tag in FETCH_TAGS:
            return Notice("fetch", native_id, topic=message.tag, reason=FETCH_TAGS[message.tag])
        if message.tag == CANCEL_TAG:
            return Notice("cancel", native_id, reason="cancelled on 抖店", topic=message.tag)
        if message.tag == REFUND_TAG:
            return Notice("refund", native_id, reason="after-sales requested on 抖店", topic=message.tag)
        return Notice("ignore", native_id, topic=message.tag)

    def detail_call(self, credentials: Credentials, native_id: str, now: datetime) -> NativeCall:
        return api_call(credentials, "order.orderDetail", {"shop_order_id": native_id}, now)

    def detail_notice(self, answer: Any) -> Notice:
        detail = common.validate(DetailAnswer, PLATFORM, answer)
        if detail.code != 10000 or detail.data is None:
            raise NativeError.field("order.orderDetail", f"{detail.code} {detail.msg}"[:200])
        order = native_order(detail.data.shop_order_detail)
        if order.cancelled:
            return Notice("cancel", order.native_id, order, reason="cancelled on 抖店")
        return Notice("order", order.native_id, order)

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.tracking_number:
            return None
        business = {
            "order_id": fulfilment.native_id,
            "company_code": COMPANY_CODES.get(
                (fulfilment.carrier or "").upper(), (fulfilment.carrier or "").lower()
            ),
            "logistics_code": fulfilment.tracking_number,
        }
        return api_call(credentials, "order.logisticsAdd", business, now)


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def native_order(order: DouyinOrder) -> NativeOrder:
    contact = common.phone(order.post_tel)
    if contact is None:
        raise NativeError.field("shop_order_detail.post_tel", "not a phone number")
    lines = [
        NativeLine(
            ref=sku.order_id,
            item_id=str(sku.product_id),
            sku_id=str(sku.sku_id),
            merchant_code=sku.out_sku_id or sku.code or None,
            name=sku.product_name,
            quantity=sku.item_num,
            unit_price=common.fen(sku.goods_price),
        )
        for sku in order.sku_order_list
    ]
    subtotal = common.goods_total(lines)
    shipping, total = common.fen(order.post_amount), common.fen(order.pay_amount)
    discount = common.unpaid_discount(
        subtotal, shipping, total, "shop_order_detail.pay_amount", "exceeds goods plus post_amount"
    )
    addr = order.post_addr
    street = "".join(p for p in (addr.town.name, addr.street.name, addr.detail) if p)
    try:
        address = Address(
            name=order.post_receiver,
            phone=contact,
            line1=street[:200],
            city=addr.city.name,
            region=addr.province.name or None,
            country="CN",
        )
    except ValidationError as err:
        raise NativeError.of(PLATFORM, err, "shop_order_detail.post_addr.") from None
    paid = order.pay_time is not None and order.order_status != 1
    created = _time(order.create_time)
    return NativeOrder(
        native_id=order.order_id,
        buyer=Buyer(id=order.doudian_open_id or f"dy-{order.order_id}"),
        address=address,
        lines=lines,
        currency="CNY",
        subtotal=subtotal,
        shipping=shipping,
        discount=discount,
        tax=Decimal("0"),
        total=total,
        placed_at=created,
        modified_at=_time(order.update_time) if order.update_time else created,
        paid=paid,
        payment_id=f"douyin:{order.order_id}" if paid else None,
        paid_at=_time(order.pay_time) if paid and order.pay_time else None,
        remark=order.buyer_words or None,
        cancelled=order.order_status == 4,
        shipped=order.order_status in (3, 5),
    )


CONNECTOR = DouyinConnector()
