"""Order body builders: a valid platform order by default, every part overridable.

Amounts are computed from the lines unless given, so a default body always passes review. Every call
without an explicit `platform_order_id` gets a fresh one, and `new_sku()` gives SKUs no other test uses:
the e2e tests share one moto account for the whole session.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from functions.core.models.order_in import OrderIn, order_id_for
from functions.core.models.orders import HistoryEvent, Order
from functions.core.status import OrderStatus

CENT = Decimal("0.01")
PLACED_AT = "2026-11-25T10:00:00+08:00"

LineSpec = tuple[str, int] | tuple[str, int, str] | dict[str, Any]


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_platform_order_id(prefix: str = "PO") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def money(value: Decimal | str | int) -> str:
    return str(Decimal(value).quantize(CENT))


def line(
    sku: str | None = None, quantity: int = 1, unit_price: str = "10.00", **extra: Any
) -> dict[str, Any]:
    return {"sku": sku or new_sku(), "quantity": quantity, "unit_price": unit_price, **extra}


def address(**overrides: Any) -> dict[str, Any]:
    """A complete Shanghai address; pass a field as None to drop it."""
    base: dict[str, Any] = {
        "name": "Li Lei",
        "phone": "+86 138 0000 0000",
        "line1": "1 Nanjing Rd",
        "city": "Shanghai",
        "region": "SH",
        "postal_code": "200000",
        "country": "CN",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def order_body(
    lines: Iterable[LineSpec] | None = None,
    *,
    platform: str = "tmall",
    platform_order_id: str | None = None,
    shipping: str = "0.00",
    tax: str = "0.00",
    discount: str = "0.00",
    subtotal: str | None = None,
    total: str | None = None,
    currency: str = "CNY",
    shipping_address: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A JSON-ready body for POST /orders.

    `lines` items are dicts, or (sku, quantity[, unit_price]) tuples. `subtotal` and `total` default to
    what the lines, shipping, tax and discount add up to; give them to make the amounts wrong on purpose.
    """
    built = [_line(spec) for spec in (lines if lines is not None else [(new_sku(), 1)])]
    lines_sum = sum((Decimal(item["unit_price"]) * item["quantity"] for item in built), Decimal("0"))
    sub = Decimal(subtotal) if subtotal is not None else lines_sum
    tot = Decimal(total) if total is not None else sub + Decimal(shipping) + Decimal(tax) - Decimal(discount)
    body: dict[str, Any] = {
        "platform": platform,
        "platform_order_id": platform_order_id or new_platform_order_id(),
        "buyer": {"id": "buyer-1", "name": "Li Lei"},
        "shipping_address": shipping_address if shipping_address is not None else address(),
        "lines": built,
        "amounts": {
            "currency": currency,
            "subtotal": money(sub),
            "shipping": money(shipping),
            "discount": money(discount),
            "tax": money(tax),
            "total": money(tot),
        },
        "placed_at": PLACED_AT,
    }
    body.update(overrides)
    return body


def _line(spec: LineSpec) -> dict[str, Any]:
    if isinstance(spec, dict):
        return dict(spec)
    if len(spec) == 2:
        return line(spec[0], spec[1])
    return line(spec[0], spec[1], spec[2])  # type: ignore[misc]


def order_in(lines: Iterable[LineSpec] | None = None, **kwargs: Any) -> OrderIn:
    return OrderIn.model_validate(order_body(lines, **kwargs))


def order_id_of(body: dict[str, Any]) -> str:
    """The OMS order id the API derives from a body's (platform, platform_order_id)."""
    return order_id_for(body["platform"], body["platform_order_id"])


def mutated(
    body: dict[str, Any], path: tuple[str | int, ...], value: Any = ..., *, delete: bool = False
) -> dict[str, Any]:
    """A deep copy of `body` with the value at `path` replaced (or removed with delete=True)."""
    result = copy.deepcopy(body)
    target: Any = result
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return result


def stored_order(body: dict[str, Any], at: datetime) -> tuple[Order, HistoryEvent]:
    """The order and first event ingest would store for `body`, for driving stage services directly."""
    incoming = OrderIn.model_validate(body)
    order = Order(
        **incoming.model_dump(),
        order_id=order_id_for(incoming.platform, incoming.platform_order_id),
        status=OrderStatus.RECEIVED,
        version=1,
        created_at=at,
        updated_at=at,
        request_hash=incoming.fingerprint(),
    )
    event = HistoryEvent(
        seq=1,
        at=at,
        type="order.received",
        to_status=OrderStatus.RECEIVED,
        actor=f"platform:{incoming.platform}",
    )
    return order, event
