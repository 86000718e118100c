"""Taobao / Tmall (TOP): trade pushes, the incremental pull, and 发货 (logistics.offline.send) back.

Push: `POST /channels/{taobao|tmall}/webhooks?app_key=..&timestamp=..&sign_method=..&sign=..&topic=..`,
signed as every TOP request (functions/connectors/top.py) with the body appended. Topics are the TMC
message names:
* taobao_trade_TradeCreate, TradeBuyerPay, TradeChanged, TradeLogisticsAddressChanged, TradeClose:
  the body is the trade as `taobao.trade.fullinfo.get` answers it (`{"trade_fullinfo_get_response":
  {"trade": {...}}}`), the shop is the trade's `seller_nick`;
* taobao_refund_RefundCreated: the body is the message content (`tid`, `oid`, `refund_id`,
  `seller_nick`, `refund_fee`, `modified`).
Pull: `taobao.trades.sold.increment.get` (start_modified/end_modified, page_no, use_has_next) per shop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from functions.connectors import common, top
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

TRADE_TOPICS = (
    "taobao_trade_TradeCreate",
    "taobao_trade_TradeBuyerPay",
    "taobao_trade_TradeChanged",
    "taobao_trade_TradeLogisticsAddressChanged",
    "taobao_trade_TradeClose",
)
REFUND_TOPIC = "taobao_refund_RefundCreated"
UNPAID = frozenset({"TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY", "PAY_PENDING"})
CLOSED = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"})
SHIPPED = frozenset(
    {"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED", "SELLER_CONSIGNED_PART"}
)
REFUNDING = frozenset(
    {"WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS", "SUCCESS"}
)
TRADE_FIELDS = (
    "tid,status,type,seller_nick,buyer_nick,buyer_open_uid,created,modified,pay_time,payment,total_fee,"
    "post_fee,discount_fee,buyer_message,receiver_name,receiver_mobile,receiver_phone,receiver_state,"
    "receiver_city,receiver_district,receiver_town,receiver_address,receiver_zip,orders"
)
CARRIER_CODES = {
    "SF": "SF",
    "ZTO": "ZTO",
    "YTO": "YTO",
    "STO": "STO",
    "YUNDA": "YUNDA",
    "EMS": "EMS",
    "JD": "JD",
}


class TopOrder(Native):
    """A sub-order (子订单) of a trade."""

    oid: int
    num_iid: int
    sku_id: str | None = None
    outer_iid: str | None = None
    outer_sku_id: str | None = None
    title: str | None = None
    price: Decimal = Field(ge=0)
    num: int = Field(ge=1, le=10_000)
    refund_status: str | None = None
    is_virtual: bool = False

    @field_validator("sku_id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class TopOrders(Native):
    order: list[TopOrder] = Field(min_length=1, max_length=100)


class TopTrade(Native):
    tid: int
    status: str = Field(min_length=1)
    seller_nick: str = Field(min_length=1)
    buyer_nick: str | None = None
    buyer_open_uid: str | None = None
    created: str
    modified: str | None = None
    pay_time: str | None = None
    payment: Decimal = Field(ge=0)
    total_fee: Decimal = Field(ge=0)
    post_fee: Decimal = Field(default=Decimal("0"), ge=0)
    buyer_message: str | None = None
    receiver_name: str = Field(min_length=1)
    receiver_mobile: str | None = None
    receiver_phone: str | None = None
    receiver_state: str | None = None
    receiver_city: str = Field(min_length=1)
    receiver_district: str | None = None
    receiver_town: str | None = None
    receiver_address: str = Field(min_length=1)
    receiver_zip: str | None = None
    orders: TopOrders

    @field_validator("created", "modified", "pay_time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            common.china_time(value)  # a malformed time names its field
        return value


class _FullInfo(Native):
    trade: TopTrade


class TradeFullInfo(Native):
    trade_fullinfo_get_response: _FullInfo


class RefundMessage(Native):
    tid: int
    oid: int | None = None
    refund_id: int | None = None
    seller_nick: str = Field(min_length=1)
    refund_fee: Decimal | None = None
    modified: str | None = None


class TaobaoConnector:
    pullable = True
    pull_window = timedelta(days=1)  # start_modified and end_modified within one day

    def __init__(self, platform: str) -> None:
        self.platform = platform

    # ---------------------------------------------------------------- push
    def shop_of(self, push: Push) -> str:
        topic = push.query.get("topic", "")
        document = common.load_json(self.platform, push.raw)
        if topic == REFUND_TOPIC:
            return common.validate(RefundMessage, self.platform, document).seller_nick
        nick = (((document or {}).get("trade_fullinfo_get_response") or {}).get("trade") or {}).get(
            "seller_nick"
        )
        if not isinstance(nick, str) or not nick.strip():
            raise NativeError.field("trade_fullinfo_get_response.trade.seller_nick", "required")
        return nick.strip()

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        method = push.query.get("sign_method", "md5")
        if method not in top.SIGN_METHODS:
            raise SignatureError("BAD_SIGNATURE", f"sign_method must be one of {', '.join(top.SIGN_METHODS)}")
        common.same_app(push.query.get("app_key"), credentials, "app_key")
        stamp = push.query.get("timestamp")
        if not stamp:
            raise SignatureError("UNAUTHENTICATED", "timestamp is missing")
        at = common.signed_china_time(stamp)
        common.require_signature(
            push.query.get("sign"), top.sign(push.query, credentials.secret, method, push.raw), "sign"
        )
        common.fresh(at, now, top.SKEW, name=f"timestamp {stamp}")

    def parse(self, push: Push) -> Notice:
        topic = push.query.get("topic", "")
        document = common.load_json(self.platform, push.raw)
        if topic == REFUND_TOPIC:
            refund = common.validate(RefundMessage, self.platform, document)
            return Notice("refund", str(refund.tid), reason=f"Taobao refund {refund.refund_id}", topic=topic)
        if topic not in TRADE_TOPICS:
            raise NativeError.field("topic", f"must be one of {', '.join((*TRADE_TOPICS, REFUND_TOPIC))}")
        trade = common.validate(TradeFullInfo, self.platform, document).trade_fullinfo_get_response.trade
        order = native_order(trade)
        if order.cancelled:
            return Notice("cancel", order.native_id, order, reason=f"closed on {self.platform}", topic=topic)
        if order.refund_requested and not order.shipped:
            return Notice(
                "refund", order.native_id, order, reason=f"refund requested on {self.platform}", topic=topic
            )
        return Notice("order", order.native_id, order, topic=topic)

    # ---------------------------------------------------------------- ship-back
    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.tracking_number:
            return None
        params = {
            "method": "taobao.logistics.offline.send",
            "app_key": credentials.app_key,
            "session": credentials.access_token,
            "timestamp": top.timestamp(now),
            "v": "2.0",
            "format": "json",
            "tid": fulfilment.native_id,
            "out_sid": fulfilment.tracking_number,
            "company_code": CARRIER_CODES.get(
                (fulfilment.carrier or "").upper(), fulfilment.carrier or "OTHER"
            ),
        }
        return _form_call(top.signed(params, credentials.secret), "taobao.logistics.offline.send")

    # ---------------------------------------------------------------- pull
    def pull_call(
        self, credentials: Credentials, since: datetime, until: datetime, page: int, now: datetime
    ) -> NativeCall:
        params = {
            "method": "taobao.trades.sold.increment.get",
            "app_key": credentials.app_key,
            "session": credentials.access_token,
            "timestamp": top.timestamp(now),
            "v": "2.0",
            "format": "json",
            "fields": TRADE_FIELDS,
            "start_modified": top.timestamp(since),
            "end_modified": top.timestamp(until),
            "page_no": str(page),
            "page_size": "50",
            "use_has_next": "true",
        }
        return _form_call(top.signed(params, credentials.secret), "taobao.trades.sold.increment.get")

    def pull_page(self, answer: Any) -> tuple[list[tuple[bytes, dict[str, str]]], bool]:
        """Each trade of one page as the push-shaped body (and query) it is parsed and kept as, and whether
        more pages follow."""
        response = common.checked_answer(answer).get("trades_sold_increment_get_response") or {}
        trades = (response.get("trades") or {}).get("trade") or []
        query = {"topic": "taobao_trade_TradeChanged"}
        found = [
            (json.dumps({"trade_fullinfo_get_response": {"trade": t}}, ensure_ascii=False).encode(), query)
            for t in trades
        ]
        return found, bool(response.get("has_next"))


def _form_call(params: Mapping[str, str], name: str) -> NativeCall:
    return common.form_call(params, name, content_type="application/x-www-form-urlencoded;charset=utf-8")


def native_order(trade: TopTrade) -> NativeOrder:
    contact = common.phone(trade.receiver_mobile, trade.receiver_phone)
    if contact is None:
        raise NativeError.field("receiver_mobile", "required: the carrier needs a phone number")
    lines = [
        NativeLine(
            ref=str(o.oid),
            item_id=str(o.num_iid),
            sku_id=o.sku_id or "",
            merchant_code=o.outer_sku_id or o.outer_iid or None,
            name=o.title,
            quantity=o.num,
            unit_price=o.price,
            virtual=o.is_virtual,
        )
        for o in trade.orders.order
    ]
    subtotal = common.goods_total(lines)
    discount = common.unpaid_discount(
        subtotal,
        trade.post_fee,
        trade.payment,
        "payment",
        f"{trade.payment} exceeds goods {subtotal} plus post_fee {trade.post_fee}",
    )
    created = common.china_time(trade.created)
    paid = trade.status not in UNPAID and trade.pay_time is not None
    street = "".join(p for p in (trade.receiver_district, trade.receiver_town, trade.receiver_address) if p)
    return NativeOrder(
        native_id=str(trade.tid),
        buyer=Buyer(id=trade.buyer_open_uid or trade.buyer_nick or f"tb-{trade.tid}"),
        address=Address(
            name=trade.receiver_name,
            phone=contact,
            line1=street[:200],
            city=trade.receiver_city,
            region=trade.receiver_state,
            postal_code=trade.receiver_zip,
            country="CN",
        ),
        lines=lines,
        currency="CNY",
        subtotal=subtotal,
        shipping=trade.post_fee,
        discount=discount,
        tax=Decimal("0"),
        total=trade.payment,
        placed_at=created,
        modified_at=common.china_time(trade.modified) if trade.modified else created,
        paid=paid,
        payment_id=f"taobao:{trade.tid}" if paid else None,
        paid_at=common.china_time(trade.pay_time) if paid and trade.pay_time else None,
        remark=trade.buyer_message or None,
        cancelled=trade.status in CLOSED,
        refund_requested=any((o.refund_status or "") in REFUNDING for o in trade.orders.order),
        shipped=trade.status in SHIPPED,
    )


CONNECTOR = TaobaoConnector("taobao")
TMALL = TaobaoConnector("tmall")
