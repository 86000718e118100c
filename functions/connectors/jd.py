"""JD (京东 JOS): orders pushed as `jingdong.pop.order.get` answers them, signed as JOS requests are.

Push: a form with `app_key`, `method` (jingdong.pop.order.get), `timestamp` (yyyy-MM-dd HH:mm:ss,
Beijing time; JOS allows 10 minutes of clock difference), `v` (2.0), `360buy_param_json` (the
`orderInfo` document) and `sign` (functions/connectors/md5sign.py). The shop is the order's `venderId`.
`orderState` TRADE_CANCELED cancels; LOCKED (a buyer's cancel/refund request) intercepts before shipment.
Ship-back: `jingdong.pop.order.shipment` (orderId, logiCoprId, logiNo) through the shop's JOS gateway.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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
)
from functions.core.models.order_in import Address, Buyer

PLATFORM = "jd"
METHOD = "jingdong.pop.order.get"
SKEW = timedelta(minutes=10)
CANCELLED = frozenset({"TRADE_CANCELED", "POP_ORDER_PAUSE"})
REFUND_REQUESTED = frozenset({"LOCKED"})
SHIPPED = frozenset({"WAIT_GOODS_RECEIVE_CONFIRM", "FINISHED_L", "RECEIPTS_CONFIRM"})
UNPAID = frozenset({"WAIT_SELLER_DELIVERY", "NOT_PAY"})
CARRIER_IDS = {
    "SF": "467",
    "JD": "2087",
    "ZTO": "463",
    "YTO": "463",
    "STO": "470",
    "YUNDA": "327",
    "EMS": "465",
}


class _Consignee(Native):
    fullname: str = Field(min_length=1)
    mobile: str | None = None
    telephone: str | None = None
    province: str | None = None
    city: str = Field(min_length=1)
    county: str | None = None
    town: str | None = None
    fullAddress: str = Field(min_length=1)


class _Item(Native):
    skuId: str = Field(min_length=1)
    wareId: str | None = None
    outerSkuId: str | None = None
    skuName: str | None = None
    jdPrice: Decimal = Field(ge=0)
    itemTotal: int = Field(ge=1, le=10_000)


class JdOrder(Native):
    orderId: str = Field(min_length=1, max_length=40)
    venderId: str = Field(min_length=1)
    orderState: str = Field(min_length=1)
    orderTotalPrice: Decimal = Field(ge=0)
    orderPayment: Decimal = Field(ge=0)
    freightPrice: Decimal = Field(default=Decimal("0"), ge=0)
    orderStartTime: str
    modified: str | None = None
    paymentConfirmTime: str | None = None
    orderRemark: str | None = None
    pin: str | None = None
    consigneeInfo: _Consignee
    itemInfoList: list[_Item] = Field(min_length=1, max_length=100)


class JdPush(Native):
    orderInfo: JdOrder


class JdConnector:
    platform = PLATFORM
    pullable = False

    def _order(self, raw: bytes) -> JdOrder:
        params = md5sign.form(PLATFORM, raw)
        if params.get("method") != METHOD:
            raise NativeError.field("method", f"must be {METHOD}")
        document = common.load_json(PLATFORM, params.get("360buy_param_json", "").encode())
        return common.validate(JdPush, PLATFORM, document, prefix="360buy_param_json.").orderInfo

    def shop_of(self, push: Push) -> str:
        return self._order(push.raw).venderId

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        params = md5sign.form(PLATFORM, push.raw)
        common.same_app(params.get("app_key"), credentials, "app_key")
        md5sign.verify(params, credentials.secret)
        common.fresh(common.signed_china_time(params.get("timestamp", "")), now, SKEW)

    def parse(self, push: Push) -> Notice:
        order = native_order(self._order(push.raw))
        if order.cancelled:
            return Notice("cancel", order.native_id, order, reason="cancelled on JD")
        if order.refund_requested:
            return Notice("refund", order.native_id, order, reason="buyer asked JD to cancel")
        return Notice("order", order.native_id, order)

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.tracking_number:
            return None
        business: dict[str, Any] = {
            "orderId": fulfilment.native_id,
            "logiCoprId": CARRIER_IDS.get((fulfilment.carrier or "").upper(), "1274"),
            "logiNo": fulfilment.tracking_number,
        }
        params = md5sign.signed(
            {
                "method": "jingdong.pop.order.shipment",
                "app_key": credentials.app_key,
                "access_token": credentials.access_token,
                "timestamp": common.china_timestamp(now),
                "v": "2.0",
                "360buy_param_json": common.compact_json(business),
            },
            credentials.secret,
        )
        return common.form_call(params, "jingdong.pop.order.shipment")


def native_order(order: JdOrder) -> NativeOrder:
    consignee = order.consigneeInfo
    contact = common.phone(consignee.mobile, consignee.telephone)
    if contact is None:
        raise NativeError.field("360buy_param_json.orderInfo.consigneeInfo.mobile", "required")
    lines = [
        NativeLine(
            ref=item.skuId,
            item_id=item.wareId or item.skuId,
            sku_id=item.skuId,
            merchant_code=item.outerSkuId or None,
            name=item.skuName,
            quantity=item.itemTotal,
            unit_price=item.jdPrice,
        )
        for item in order.itemInfoList
    ]
    subtotal = common.goods_total(lines)
    discount = common.unpaid_discount(
        subtotal,
        order.freightPrice,
        order.orderPayment,
        "360buy_param_json.orderInfo.orderPayment",
        "exceeds goods plus freight",
    )
    try:
        created = common.china_time(order.orderStartTime)
        modified = common.china_time(order.modified) if order.modified else created
        paid_at = common.china_time(order.paymentConfirmTime) if order.paymentConfirmTime else None
    except ValueError:
        raise NativeError.field(
            "360buy_param_json.orderInfo.orderStartTime", "not yyyy-MM-dd HH:mm:ss"
        ) from None
    paid = order.orderState not in UNPAID
    try:
        address = Address(
            name=consignee.fullname,
            phone=contact,
            line1=consignee.fullAddress[:200],
            city=consignee.city,
            region=consignee.province,
            country="CN",
        )
    except ValidationError as err:
        raise NativeError.of(PLATFORM, err, "360buy_param_json.orderInfo.consigneeInfo.") from None
    return NativeOrder(
        native_id=order.orderId,
        buyer=Buyer(id=order.pin or f"jd-{order.orderId}"),
        address=address,
        lines=lines,
        currency="CNY",
        subtotal=subtotal,
        shipping=order.freightPrice,
        discount=discount,
        tax=Decimal("0"),
        total=order.orderPayment,
        placed_at=created,
        modified_at=modified,
        paid=paid,
        payment_id=f"jd:{order.orderId}" if paid else None,
        paid_at=(paid_at or created) if paid else None,
        remark=order.orderRemark or None,
        cancelled=order.orderState in CANCELLED,
        refund_requested=order.orderState in REFUND_REQUESTED,
        shipped=order.orderState in SHIPPED,
    )


CONNECTOR = JdConnector()
