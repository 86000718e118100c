"""WooCommerce: webhooks order.created, order.updated, order.deleted; shipment tracking back.

Signature (WooCommerce REST API docs, "Webhooks"): `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the
raw body, keyed with the webhook's secret. The site is `X-WC-Webhook-Source` (its URL; our shop's native
id is the host), the topic `X-WC-Webhook-Topic`. WooCommerce signs no timestamp: an out-of-order update
is recognised by the order's `date_modified_gmt` instead (an older one is ignored as stale).
Ship-back: the Shipment Tracking extension's `POST /wp-json/wc-shipment-tracking/v3/orders/{id}/
shipment-trackings`, authenticated with the REST API key (Basic consumer_key:consumer_secret).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from pydantic import Field

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

PLATFORM = "woocommerce"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
SOURCE_HEADER = "X-WC-Webhook-Source"
TOPIC_HEADER = "X-WC-Webhook-Topic"
TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
PAID = frozenset({"processing", "completed", "on-hold"})
CANCELLED = frozenset({"cancelled", "failed", "trash"})


class _Billing(Native):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class _Shipping(Native):
    first_name: str | None = None
    last_name: str | None = None
    address_1: str = Field(min_length=1)
    address_2: str | None = None
    city: str = Field(min_length=1)
    state: str | None = None
    postcode: str | None = None
    country: str = Field(pattern=r"^[A-Z]{2}$")
    phone: str | None = None


class _LineItem(Native):
    id: int
    name: str | None = None
    product_id: int
    variation_id: int = 0
    quantity: int = Field(ge=1, le=10_000)
    subtotal: Decimal = Field(ge=0)  # before coupons
    sku: str | None = None


class _ShippingLine(Native):
    total: Decimal = Field(ge=0)


class WooOrder(Native):
    id: int
    status: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    date_created_gmt: datetime
    date_modified_gmt: datetime | None = None
    date_paid_gmt: datetime | None = None
    discount_total: Decimal = Field(default=Decimal("0"), ge=0)
    shipping_total: Decimal = Field(default=Decimal("0"), ge=0)
    total_tax: Decimal = Field(default=Decimal("0"), ge=0)
    total: Decimal = Field(ge=0)
    prices_include_tax: bool = False
    customer_id: int = 0
    customer_note: str | None = None
    billing: _Billing = _Billing()
    shipping: _Shipping
    line_items: list[_LineItem] = Field(min_length=1, max_length=100)


class WooDeleted(Native):
    id: int


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # *_gmt fields carry no offset


class WooCommerceConnector:
    platform = PLATFORM
    pullable = False

    def shop_of(self, push: Push) -> str:
        source = push.header(SOURCE_HEADER)
        host = urlsplit(source or "").hostname
        if not host:
            raise SignatureError("UNAUTHENTICATED", f"{SOURCE_HEADER} is missing")
        return host.lower()

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        expected = common.base64_hmac_sha256(credentials.secret, push.raw)
        common.require_signature(push.header(SIGNATURE_HEADER), expected, SIGNATURE_HEADER)

    def parse(self, push: Push) -> Notice:
        topic = (push.header(TOPIC_HEADER) or "").strip()
        if topic not in TOPICS:
            raise NativeError.field(TOPIC_HEADER, f"must be one of {', '.join(TOPICS)}, not {topic!r}")
        document = common.load_json(PLATFORM, push.raw)
        if topic == "order.deleted":
            deleted = common.validate(WooDeleted, PLATFORM, document)
            return Notice("cancel", str(deleted.id), reason="deleted in WooCommerce", topic=topic)
        order = native_order(common.validate(WooOrder, PLATFORM, document))
        if order.cancelled:
            return Notice("cancel", order.native_id, order, reason="cancelled in WooCommerce", topic=topic)
        if order.refund_requested:
            return Notice("refund", order.native_id, order, reason="refunded in WooCommerce", topic=topic)
        return Notice("order", order.native_id, order, topic=topic)

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.tracking_number:
            return None
        body = {
            "tracking_provider": fulfilment.carrier or "",
            "tracking_number": fulfilment.tracking_number,
            "date_shipped": fulfilment.occurred_at.date().isoformat(),
        }
        basic = base64.b64encode(credentials.access_token.encode()).decode()
        return NativeCall(
            method="POST",
            path=f"/wp-json/wc-shipment-tracking/v3/orders/{fulfilment.native_id}/shipment-trackings",
            body=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"},
            name="shipment-trackings.create",
        )


def native_order(order: WooOrder) -> NativeOrder:
    ship, bill = order.shipping, order.billing
    contact = common.phone(ship.phone, bill.phone)
    if contact is None:
        raise NativeError.field("shipping.phone", "required (or billing.phone): the carrier needs a phone")
    name = " ".join(p for p in (ship.first_name, ship.last_name) if p)
    if not name:
        raise NativeError.field("shipping.first_name", "required")
    lines = [
        NativeLine(
            ref=str(item.id),
            item_id=str(item.product_id),
            sku_id=str(item.variation_id or ""),
            merchant_code=item.sku or None,
            name=item.name,
            quantity=item.quantity,
            unit_price=(item.subtotal / item.quantity).quantize(Decimal("0.01")),
        )
        for item in order.line_items
    ]
    for item, line in zip(order.line_items, lines, strict=True):
        if line.unit_price * line.quantity != item.subtotal:
            raise NativeError.field(
                f"line_items.{item.id}.subtotal", "is not a whole number of cents per unit"
            )
    subtotal = common.goods_total(lines)
    paid = order.status in PAID or (order.status == "refunded")
    created = _utc(order.date_created_gmt)
    buyer_name = " ".join(p for p in (bill.first_name, bill.last_name) if p) or None
    return NativeOrder(
        native_id=str(order.id),
        buyer=Buyer(
            id=str(order.customer_id) if order.customer_id else (bill.email or f"guest-{order.id}"),
            name=buyer_name,
            email=bill.email or None,
            phone=common.phone(bill.phone),
        ),
        address=Address(
            name=name[:200],
            phone=contact,
            line1=ship.address_1,
            line2=ship.address_2 or None,
            city=ship.city,
            region=ship.state or None,
            postal_code=ship.postcode or None,
            country=ship.country,
        ),
        lines=lines,
        currency=order.currency,
        subtotal=subtotal,
        shipping=order.shipping_total,
        discount=order.discount_total,
        tax=Decimal("0") if order.prices_include_tax else order.total_tax,
        total=order.total,
        placed_at=created,
        modified_at=_utc(order.date_modified_gmt) if order.date_modified_gmt else created,
        paid=paid,
        payment_id=f"woocommerce:{order.id}" if paid else None,  # transaction ids are free text
        paid_at=_utc(order.date_paid_gmt) if paid and order.date_paid_gmt else (created if paid else None),
        remark=order.customer_note or None,
        cancelled=order.status in CANCELLED,
        refund_requested=order.status == "refunded",
        shipped=order.status == "completed",
    )


CONNECTOR = WooCommerceConnector()
