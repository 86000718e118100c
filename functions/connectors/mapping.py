"""A platform order -> our order model (pure): SKUs by the merchant's code, else the shop's SKU map.

A line neither names a code we know nor appears in the map is *unmapped*: the order is held
(UNMAPPED_SKU) rather than rejected, until ops map it (docs/connectors.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from functions.connectors.contract import LineRef, NativeError, NativeLine, NativeOrder
from functions.core.models.order_in import OrderIn, order_id_for

_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
UNMAPPED_SKU = "UNMAPPED_SKU"


@dataclass(frozen=True)
class Unmapped:
    ref: str
    item_id: str
    sku_id: str
    merchant_code: str | None
    name: str | None


@dataclass(frozen=True)
class Mapped:
    order: OrderIn | None  # None when a line is unmapped
    lines: list[LineRef]
    unmapped: list[Unmapped]


def platform_order_id(shop: str, native_id: str) -> str:
    """Our platform_order_id of a shop's order: ids are unique per shop only on some platforms."""
    return f"{shop}:{native_id}"


def our_order_id(platform: str, shop: str, native_id: str) -> str:
    return order_id_for(platform, platform_order_id(shop, native_id))


def resolve(
    line: NativeLine, sku_map: Mapping[tuple[str, str], str], known: Callable[[str], bool]
) -> str | None:
    """Our SKU for a platform line: the shop's explicit mapping wins, then the merchant's own code."""
    mapped = sku_map.get((line.item_id, line.sku_id)) or sku_map.get((line.item_id, ""))
    if mapped:
        return mapped
    code = (line.merchant_code or "").strip()
    if code and _SKU.match(code) and known(code):
        return code
    return None


def to_order(
    platform: str,
    shop: str,
    native: NativeOrder,
    sku_map: Mapping[tuple[str, str], str],
    known: Callable[[str], bool],
) -> Mapped:
    refs: list[LineRef] = []
    unmapped: list[Unmapped] = []
    merged: dict[str, dict[str, object]] = {}
    for line in native.lines:
        sku = resolve(line, sku_map, known)
        if sku is None:
            unmapped.append(Unmapped(line.ref, line.item_id, line.sku_id, line.merchant_code, line.name))
            continue
        refs.append(LineRef(sku=sku, ref=line.ref, quantity=line.quantity))
        same = merged.get(sku)
        if same is None:
            merged[sku] = {
                "sku": sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "name": line.name[:200] if line.name else None,
                "virtual": line.virtual,
            }
        elif same["unit_price"] == line.unit_price:
            same["quantity"] = int(str(same["quantity"])) + line.quantity
        else:  # two platform lines of one SKU at different prices: keep the money exact per unit
            raise NativeError.field(f"line {line.ref}", f"maps to SKU {sku} again at another unit price")
    if unmapped:
        return Mapped(None, refs, unmapped)
    body = {
        "platform": platform,
        "platform_order_id": platform_order_id(shop, native.native_id),
        "buyer": native.buyer.model_dump(exclude_none=True),
        "shipping_address": native.address.model_dump(exclude_none=True),
        "lines": list(merged.values()),
        "amounts": {
            "currency": native.currency,
            "subtotal": native.subtotal,
            "shipping": native.shipping,
            "discount": native.discount,
            "tax": native.tax,
            "total": native.total,
        },
        "placed_at": native.placed_at,
        "remark": native.remark[:500] if native.remark else None,
        "payment": (
            {"status": "paid", "payment_id": native.payment_id, "paid_at": native.paid_at}
            if native.paid
            else {"status": "unpaid"}
        ),
    }
    try:
        order = OrderIn.model_validate({k: v for k, v in body.items() if v is not None})
    except ValidationError as err:
        raise NativeError.of(platform, err, prefix="mapped order: ") from None
    return Mapped(order, refs, [])
