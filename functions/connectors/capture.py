"""The connectors' one door into the order pipeline: create, intercept, change an address.

Every call into another stage's service is here, so re-pointing the connectors at a moved capture or
interception path is a change to this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from functions.core import application, repository
from functions.core.errors import RefusedError
from functions.core.models.order_in import Address, OrderIn
from functions.core.models.orders import Order
from functions.core.status import TERMINAL
from functions.intercept.logic import AFTER_SHIPMENT, InterceptIn
from functions.payment.models import PaymentCallback

Outcome = Literal[
    "created", "unchanged", "updated", "paid", "intercepted", "after_sales", "final", "exception", "refused"
]


@dataclass(frozen=True)
class Captured:
    order: Order
    created: bool


def capture(order_in: OrderIn) -> Captured:
    """Store the order and start its workflow (idempotent on platform + platform_order_id)."""
    result = application.ingest_order(order_in, channel="connector")
    return Captured(result.order, result.created)


def find(order_id: str) -> Order | None:
    return repository.find_order(order_id)


def sku_known(sku: str) -> bool:
    """A merchant code names one of our SKUs when the product master has it, active (capture refuses
    any other)."""
    product = repository.get_product(sku)
    return product is not None and product.active


def intercept(order_id: str, reason: str, actor: str) -> Outcome:
    """A platform-side cancellation or refund request: stop the order if it has not shipped yet."""
    try:
        result = application.request_interception(
            order_id, InterceptIn(reason=reason[:500], action="cancel"), actor
        )
    except RefusedError as refused:
        if refused.code == "AFTER_SALES":
            _note(order_id, "channel.cancel_after_shipment", actor, {"reason": reason[:200]})
            return "after_sales"
        if refused.code == "ALREADY_INTERCEPTED":
            return "intercepted"
        return "final"
    return "intercepted" if result.order.interception else "final"


def change_address(order_id: str, address: Address, actor: str) -> Outcome:
    """The buyer changed the address on the platform: before shipment the order takes it; after, it is
    an exception ops see on the order's timeline (the parcel is already on its way)."""
    for _ in range(5):
        order = repository.get_order(order_id)
        if order.shipping_address == address:
            return "unchanged"
        if order.status in AFTER_SHIPMENT or order.status in TERMINAL:
            _note(order_id, "channel.address_change_refused", actor, {"status": order.status.value})
            return "exception"
        updated = repository.annotate(
            order,
            event_type="order.address_changed",
            actor=actor,
            set_fields={"shipping_address": address.model_dump(mode="json")},
            detail={"source": "platform"},
        )
        if updated is not None:
            return "updated"
    raise RefusedError("RETRY", f"order {order_id} kept changing; retry", status=503)


def _note(order_id: str, event_type: str, actor: str, detail: dict[str, str]) -> None:
    for _ in range(5):
        order = repository.get_order(order_id)
        if repository.annotate(order, event_type=event_type, actor=actor, set_fields={}, detail=detail):
            return


def pay(order_id: str, payment_id: str, amount: Decimal, paid_at: datetime, actor: str) -> Outcome:
    """The platform says an order that arrived unpaid is now paid: the payment callback, as the
    platform would have sent it (idempotent by payment_id)."""
    callback = PaymentCallback(payment_id=payment_id, amount=amount, paid_at=paid_at)
    if not application.pay_order(order_id, callback, actor):
        _note(order_id, "channel.payment_refused", actor, {"payment_id": payment_id})
        return "refused"
    return "paid"
