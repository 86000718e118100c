"""Pinduoduo (拼多多): orders pushed as `pdd.order.information.get` answers them, signed as PDD requests.

Push: a form with `client_id`, `type` (pdd.order.information.get), `timestamp` (Unix seconds; 10 minutes
of clock difference accepted), `data_type` (JSON), `mall_id` (the shop), `order_info` (the document) and
`sign` (functions/connectors/md5sign.py). Amounts are yuan. `refund_status` 2/3 (售后处理中/退款中)
before shipment intercepts the order, 4 (退款成功) cancels it.
Ship-back: `pdd.logistics.online.send` (order_sn, logistics_id, tracking_number).
Pull: `pdd.order.number.list.increment.get` (start_updated_at/end_updated_at at most 30 minutes apart,
page, use_has_next), each order kept as the push-shaped form it is parsed from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from pydantic import Field, ValidationError

from functions.connectors import common, md5sign
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

PLATFORM = "pinduoduo"
TYPE = "pdd.order.information.get"
SKEW = timedelta(minutes=10)
LOGISTICS_IDS = {"SF": "44", "ZTO": "115", "YTO": "85", "STO": "1", "YUNDA": "121", "EMS": "118", "JD": "120"}


class _Item(Native):
    goods_id: int
    sku_id: int
    outer_id: str | None = None
    outer_goods_id: str | None = None
    goods_name: str | None = None
    goods_price: Decimal = Field(ge=0)
    goods_count: int = Field(ge=1, le=10_000)


class PddOrder(Native):
    order_sn: str = Field(pattern=r"^[0-9]{6}-[0-9]{6,20}$")
    order_status: int = Field(ge=1, le=3)  # 1 待发货, 2 已发货待签收, 3 已签收
    refund_status: int = Field(default=1, ge=1, le=4)
    confirm_status: int = 1  # 1 成交 (paid)
    created_time: str
    updated_at: str | None = None
    confirm_time: str | None = None
    goods_amount: Decimal = Field(ge=0)
    pay_amount: Decimal = Field(ge=0)
    postage: Decimal = Field(default=Decimal("0"), ge=0)
    receiver_name: str = Field(min_length=1)
    receiver_phone: str = Field(min_length=5)
    province: str | None = None
    city: str = Field(min_length=1)
    town: str | None = None
    address: str = Field(min_length=1)
    buyer_memo: str | None = None
    item_list: list[_Item] = Field(min_length=1, max_length=100)


class PddPush(Native):
    order_info: PddOrder


class PinduoduoConnector:
    platform = PLATFORM
    pullable = True
    pull_window = timedelta(minutes=30)  # PDD: the updated_at range of one query

    def _order(self, params: Mapping[str, str]) -> PddOrder:
        if params.get("type") != TYPE:
            raise NativeError.field("type", f"must be {TYPE}")
        document = {"order_info": common.load_json(PLATFORM, params.get("order_info", "").encode())}
        return common.validate(PddPush, PLATFORM, document).order_info

    def shop_of(self, push: Push) -> str:
        mall = md5sign.form(PLATFORM, push.raw).get("mall_id", "")
        if not mall.isdigit():
            raise NativeError.field("mall_id", "required: the shop's numeric mall id")
        return mall

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        params = md5sign.form(PLATFORM, push.raw)
        common.same_app(params.get("client_id"), credentials, "client_id")
        md5sign.verify(params, credentials.secret)
        stamp = params.get("timestamp", "")
        if not stamp.isdigit():
            raise SignatureError("BAD_SIGNATURE", "timestamp must be Unix seconds")
        common.fresh(datetime.fromtimestamp(int(stamp), UTC), now, SKEW)

    def parse(self, push: Push) -> Notice:
        order = native_order(self._order(md5sign.form(PLATFORM, push.raw)))
        if order.cancelled:
            return Notice("cancel", order.native_id, order, reason="refunded on Pinduoduo")
        if order.refund_requested and not order.shipped:
            return Notice("refund", order.native_id, order, reason="after-sales requested on Pinduoduo")
        return Notice("order", order.native_id, order)

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.tracking_number:
            return None
        params = md5sign.signed(
            {
                "type": "pdd.logistics.online.send",
                "client_id": credentials.app_key,
                "access_token": credentials.access_token,
                "timestamp": str(int(now.timestamp())),
                "data_type": "JSON",
                "order_sn": fulfilment.native_id,
                "logistics_id": LOGISTICS_IDS.get((fulfilment.carrier or "").upper(), "0"),
                "tracking_number": fulfilment.tracking_number,
            },
            credentials.secret,
        )
        return common.form_call(params, "pdd.logistics.online.send")

    def pull_call(
        self, credentials: Credentials, since: datetime, until: datetime, page: int, now: datetime
    ) -> NativeCall:
        return pull_call(credentials, since, until, page, now)

    def pull_page(self, answer: Any) -> tuple[list[tuple[bytes, dict[str, str]]], bool]:
        return pull_page(answer)


def pull_call(
    credentials: Credentials, since: datetime, until: datetime, page: int, now: datetime
) -> NativeCall:
    params = md5sign.signed(
        {
            "type": "pdd.order.number.list.increment.get",
            "client_id": credentials.app_key,
            "access_token": credentials.access_token,
            "timestamp": str(int(now.timestamp())),
            "data_type": "JSON",
            "start_updated_at": str(int(since.timestamp())),
            "end_updated_at": str(int(until.timestamp())),
            "order_status": "5",  # every status
            "refund_status": "5",
            "is_lucky_flag": "0",
            "page": str(page),
            "page_size": "100",
            "use_has_next": "true",
        },
        credentials.secret,
    )
    return common.form_call(params, "pdd.order.number.list.increment.get")


def pull_page(answer: Any) -> tuple[list[tuple[bytes, dict[str, str]]], bool]:
    response = common.checked_answer(answer).get("order_sn_increment_get_response") or {}
    found: list[tuple[bytes, dict[str, str]]] = [
        (urlencode({"type": TYPE, "order_info": common.compact_json(order)}).encode(), {})
        for order in response.get("order_sn_list") or []
    ]
    return found, bool(response.get("has_next"))


def native_order(order: PddOrder) -> NativeOrder:
    contact = common.phone(order.receiver_phone)
    if contact is None:
        raise NativeError.field("order_info.receiver_phone", "not a phone number")
    lines = [
        NativeLine(
            ref=f"{item.goods_id}:{item.sku_id}",
            item_id=str(item.goods_id),
            sku_id=str(item.sku_id),
            merchant_code=item.outer_id or None,
            name=item.goods_name,
            quantity=item.goods_count,
            unit_price=item.goods_price,
        )
        for item in order.item_list
    ]
    subtotal = common.goods_total(lines)
    discount = common.unpaid_discount(
        subtotal, order.postage, order.pay_amount, "order_info.pay_amount", "exceeds goods plus postage"
    )
    try:
        created = common.china_time(order.created_time)
        modified = common.china_time(order.updated_at) if order.updated_at else created
        confirmed = common.china_time(order.confirm_time) if order.confirm_time else created
        address = Address(
            name=order.receiver_name,
            phone=contact,
            line1="".join(p for p in (order.town, order.address) if p)[:200],
            city=order.city,
            region=order.province,
            country="CN",
        )
    except ValidationError as err:
        raise NativeError.of(PLATFORM, err, "order_info.") from None
    except ValueError:
        raise NativeError.field("order_info.created_time", "not yyyy-MM-dd HH:mm:ss") from None
    paid = order.confirm_status == 1
    return NativeOrder(
        native_id=order.order_sn,
        buyer=Buyer(id=f"pdd-{order.order_sn}"),  # PDD does not name the buyer to merchants
        address=address,
        lines=lines,
        currency="CNY",
        subtotal=subtotal,
        shipping=order.postage,
        discount=discount,
        tax=Decimal("0"),
        total=order.pay_amount,
        placed_at=created,
        modified_at=modified,
        paid=paid,
        payment_id=f"pdd:{order.order_sn}" if paid else None,
        paid_at=confirmed if paid else None,
        remark=order.buyer_memo or None,
        cancelled=order.refund_status == 4 and order.order_status == 1,
        refund_requested=order.refund_status in (2, 3),
        shipped=order.order_status in (2, 3),
    )


CONNECTOR = PinduoduoConnector()
