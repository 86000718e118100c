"""Shopify: webhooks orders/create, orders/updated, orders/cancelled, refunds/create; fulfilments back.

Signature (shopify.dev, "Verify webhook deliveries"): `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the
raw body, keyed with the app's client secret. The shop is `X-Shopify-Shop-Domain`, the topic
`X-Shopify-Topic`. Shopify retries a delivery 8 times over 4 hours with the original payload and tells
partners to judge staleness by `X-Shopify-Triggered-At`: older than STALE_AFTER is refused.
Ship-back: `POST /admin/api/{version}/orders/{id}/fulfillments.json` with the tracking number, company
and the order's line items, authenticated with `X-Shopify-Access-Token`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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

PLATFORM = "shopify"
API_VERSION = "2024-10"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
SHOP_HEADER = "X-Shopify-Shop-Domain"
TOPIC_HEADER = "X-Shopify-Topic"
TRIGGERED_HEADER = "X-Shopify-Triggered-At"
STALE_AFTER = timedelta(hours=5)  # Shopify's retries span 4 hours
TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create")
SHIPPED_STATUSES = frozenset({"shipped", "in_transit", "out_for_delivery", "delivered"})


class _Money(Native):
    amount: Decimal = Field(ge=0)


class _MoneySet(Native):
    shop_money: _Money


class _Customer(Native):
    id: int | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class _Address(Native):
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address1: str = Field(min_length=1)
    address2: str | None = None
    city: str = Field(min_length=1)
    province_code: str | None = None
    zip: str | None = None
    country_code: str = Field(pattern=r"^[A-Z]{2}$")
    phone: str | None = None


class _LineItem(Native):
    id: int
    product_id: int | None = None
    variant_id: int | None = None
    sku: str | None = None
    title: str | None = None
    name: str | None = None
    quantity: int = Field(ge=1, le=10_000)
    price: Decimal = Field(ge=0)
    gift_card: bool = False
    requires_shipping: bool = True


class _ShippingLine(Native):
    price: Decimal = Field(ge=0)


class ShopifyOrder(Native):
    """The REST Order resource as webhooks carry it (fields we read; the rest is ignored)."""

    id: int
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    processed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total_price: Decimal = Field(ge=0)
    total_tax: Decimal = Field(default=Decimal("0"), ge=0)
    total_discounts: Decimal = Field(default=Decimal("0"), ge=0)
    taxes_included: bool = False
    financial_status: str | None = None
    fulfillment_status: str | None = None
    note: str | None = None
    customer: _Customer | None = None
    shipping_address: _Address | None = None
    line_items: list[_LineItem] = Field(min_length=1, max_length=100)
    shipping_lines: list[_ShippingLine] = []
    total_shipping_price_set: _MoneySet | None = None


class ShopifyRefund(Native):
    """The Refund resource of refunds/create."""

    id: int
    order_id: int
    note: str | None = None


class ShopifyConnector:
    platform = PLATFORM
    pullable = False

    def shop_of(self, push: Push) -> str:
        shop = push.header(SHOP_HEADER)
        if not shop:
            raise SignatureError("UNAUTHENTICATED", f"{SHOP_HEADER} is missing")
        return shop.strip().lower()

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None:
        common.require_signature(
            push.header(HMAC_HEADER), common.base64_hmac_sha256(credentials.secret, push.raw), HMAC_HEADER
        )
        triggered = push.header(TRIGGERED_HEADER)
        if triggered:
            try:
                at = datetime.fromisoformat(triggered.strip().replace("Z", "+00:00"))
            except ValueError:
                raise SignatureError("BAD_SIGNATURE", f"{TRIGGERED_HEADER} is not a time") from None
            if at.tzinfo is None:
                raise SignatureError("BAD_SIGNATURE", f"{TRIGGERED_HEADER} has no UTC offset")
            if at > now + timedelta(minutes=5) or now - at > STALE_AFTER:
                raise SignatureError("STALE_SIGNATURE", f"{TRIGGERED_HEADER} is older than Shopify's retries")

    def parse(self, push: Push) -> Notice:
        topic = (push.header(TOPIC_HEADER) or "").strip()
        if topic not in TOPICS:
            raise NativeError.field(TOPIC_HEADER, f"must be one of {', '.join(TOPICS)}, not {topic!r}")
        document = common.load_json(PLATFORM, push.raw)
        if topic == "refunds/create":
            refund = common.validate(ShopifyRefund, PLATFORM, document)
            return Notice("refund", str(refund.order_id), reason=f"Shopify refund {refund.id}", topic=topic)
        order = native_order(common.validate(ShopifyOrder, PLATFORM, document))
        if topic == "orders/cancelled" or order.cancelled:
            return Notice("cancel", order.native_id, order, reason="cancelled on Shopify", topic=topic)
        return Notice("order", order.native_id, order, topic=topic)

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None:
        if fulfilment.status != "shipped" or not fulfilment.lines:
            # Shopify tracks the parcel itself from the number; one fulfillment per shipment, naming the
            # line items it completes (none: part of a bundle whose other components ship later)
            return None
        body: dict[str, Any] = {
            "fulfillment": {
                "notify_customer": True,
                "tracking_number": fulfilment.tracking_number,
                "tracking_company": fulfilment.carrier,
                "line_items": [{"id": int(line.ref), "quantity": line.quantity} for line in fulfilment.lines],
            }
        }
        return NativeCall(
            method="POST",
            path=f"/admin/api/{API_VERSION}/orders/{fulfilment.native_id}/fulfillments.json",
            body=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json", "X-Shopify-Access-Token": credentials.access_token},
            name="fulfillment.create",
        )


def native_order(order: ShopifyOrder) -> NativeOrder:
    ship = order.shipping_address
    if ship is None:
        raise NativeError.field("shipping_address", "required: the order has nothing to ship to")
    customer = order.customer or _Customer()
    contact = common.phone(ship.phone, customer.phone, order.phone)
    if contact is None:
        raise NativeError.field("shipping_address.phone", "required: the carrier needs a phone number")
    name = ship.name or " ".join(p for p in (ship.first_name, ship.last_name) if p) or None
    if not name:
        raise NativeError.field("shipping_address.name", "required")
    lines = [
        NativeLine(
            ref=str(item.id),
            item_id=str(item.product_id or ""),
            sku_id=str(item.variant_id or ""),
            merchant_code=item.sku or None,
            name=(item.name or item.title or None),
            quantity=item.quantity,
            unit_price=item.price,
            virtual=item.gift_card or not item.requires_shipping,
        )
        for item in order.line_items
    ]
    subtotal = common.goods_total(lines)
    shipping = (
        order.total_shipping_price_set.shop_money.amount
        if order.total_shipping_price_set
        else sum((s.price for s in order.shipping_lines), Decimal("0"))
    )
    paid = order.financial_status in ("paid", "partially_refunded", "refunded")
    buyer_name = " ".join(p for p in (customer.first_name, customer.last_name) if p) or None
    return NativeOrder(
        native_id=str(order.id),
        buyer=Buyer(
            id=str(customer.id) if customer.id else (customer.email or order.email or f"guest-{order.id}"),
            name=buyer_name,
            email=customer.email or order.email,
            phone=common.phone(customer.phone),
        ),
        address=Address(
            name=name[:200],
            phone=contact,
            line1=ship.address1,
            line2=ship.address2 or None,
            city=ship.city,
            region=ship.province_code,
            postal_code=ship.zip,
            country=ship.country_code,
        ),
        lines=lines,
        currency=order.currency,
        subtotal=subtotal,
        shipping=shipping,
        discount=order.total_discounts,
        tax=Decimal("0") if order.taxes_included else order.total_tax,  # included tax is in the prices
        total=order.total_price,
        placed_at=order.processed_at or order.created_at,
        modified_at=order.updated_at or order.created_at,
        paid=paid,
        payment_id=f"shopify:{order.id}" if paid else None,
        paid_at=(order.processed_at or order.created_at) if paid else None,
        remark=(order.note or None),
        cancelled=order.cancelled_at is not None,
        refund_requested=order.financial_status in ("refunded", "partially_refunded"),
        shipped=order.fulfillment_status == "fulfilled",
    )


CONNECTOR = ShopifyConnector()
