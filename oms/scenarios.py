"""Named orders for `oms post`: each shows one path through the OMS against `oms serve`'s demo stock.

Every call builds a fresh platform order id (so the same scenario can be posted again and again), except
`duplicate`, which posts one order twice to show the idempotent answer. A scenario may need a little
set-up first (a second warehouse's stock for `split`), done through the API as an admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

MAIN_WAREHOUSE = "WH-MAIN"
SOUTH_WAREHOUSE = "WH-SOUTH"
SOUTH_ONLY_SKU = "UMBRELLA-SOUTH"  # stocked only in the second warehouse, so an order with it splits


@dataclass(frozen=True)
class StockSync:
    """A WMS count to apply (PUT /inventory/{sku}) before the order is posted."""

    sku: str
    warehouse: str
    on_hand: int


@dataclass(frozen=True)
class Scenario:
    name: str
    expect: str  # what a person should see happen
    build: Callable[[str], dict[str, Any]]  # platform order id -> the order body
    posts: int = 1  # `duplicate` posts the same body twice
    stock: tuple[StockSync, ...] = field(default=())
    register_products: bool = True  # its SKUs are put in the product master first (not unknown-sku's)


def order(platform_order_id: str, lines: list[tuple[str, int, str]], **extra: Any) -> dict[str, Any]:
    """A valid order body (totals add up) for the demo buyer in Shanghai."""
    built = [{"sku": sku, "quantity": quantity, "unit_price": price} for sku, quantity, price in lines]
    total = sum((Decimal(price) * quantity for _, quantity, price in lines), Decimal("0"))
    body: dict[str, Any] = {
        "platform": "tmall",
        "platform_order_id": platform_order_id,
        "buyer": {"id": "tb-buyer-1", "name": "Li Lei"},
        "shipping_address": {
            "name": "Li Lei",
            "phone": "+86 138 0000 0000",
            "line1": "1 Nanjing Rd",
            "city": "Shanghai",
            "region": "SH",
            "postal_code": "200000",
            "country": "CN",
        },
        "lines": built,
        "amounts": {"currency": "CNY", "subtotal": f"{total:.2f}", "total": f"{total:.2f}"},
        "placed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    body.update(extra)
    return body


def _virtual(pid: str) -> dict[str, Any]:
    body = order(pid, [("GIFT-CARD-100", 1, "100.00")])
    body["lines"][0]["virtual"] = True
    return body


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "happy", "ships straight away", lambda pid: order(pid, [("TEA-LONGJING-250G", 1, "168.00")])
        ),
        Scenario(
            "held",
            "held for review (HIGH_VALUE): approve or reject it in the console's Held orders",
            lambda pid: order(pid, [("LAPTOP-PRO-16", 1, "12999.00")]),
        ),
        Scenario(
            "unpaid",
            "reserves stock and waits for payment (cancelled at the pay deadline unless paid)",
            lambda pid: order(pid, [("MUG-CERAMIC-350", 1, "39.90")], payment={"status": "unpaid"}),
        ),
        Scenario(
            "out-of-stock",
            "more than the shelf holds (20 earbuds): waits for stock or is rejected, as the rules say",
            lambda pid: order(pid, [("EARBUDS-BT5", 30, "99.00")]),
        ),
        Scenario(
            "unknown-sku",
            "a SKU the product master does not know: refused at capture (422 UNKNOWN_SKU), nothing stored",
            lambda pid: order(pid, [("NO-SUCH-SKU-1", 1, "10.00")]),
            register_products=False,
        ),
        Scenario(
            "duplicate",
            "posted twice: the second answer is the same order (idempotent), not a new one",
            lambda pid: order(pid, [("PHONE-CASE-X", 1, "29.00")]),
            posts=2,
        ),
        Scenario("virtual", "a gift card: no stock, a virtual shipment, delivered at once", _virtual),
        Scenario(
            "split",
            f"one line from {MAIN_WAREHOUSE}, one only in {SOUTH_WAREHOUSE}: two shipments",
            lambda pid: order(pid, [("TEA-LONGJING-250G", 1, "168.00"), (SOUTH_ONLY_SKU, 1, "59.00")]),
            stock=(StockSync(SOUTH_ONLY_SKU, SOUTH_WAREHOUSE, 20),),
        ),
    )
}


def new_platform_order_id(name: str) -> str:
    return f"TM-{name.upper()}-{uuid.uuid4().hex[:10]}"
