"""GET /orders/export: any order search as CSV, page by page from the search index, up to a row cap.

What the viewer role sees masked in JSON is masked here too (the same functions/core/privacy rules):
a CSV is no way around the masking. Cells that a spreadsheet would run as a formula are quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from functions.core import repository
from functions.core.models.orders import Order
from functions.core.privacy import mask_pii
from functions.core.repository import OrderSearch
from functions.search.service import problem

MAX_EXPORT_ROWS = 10_000
PAGE = 100
COLUMNS = (
    "order_id",
    "platform",
    "platform_order_id",
    "status",
    "created_at",
    "buyer_id",
    "buyer_name",
    "buyer_phone",
    "receiver_name",
    "receiver_phone",
    "city",
    "address",
    "currency",
    "total",
    "lines",
    "units",
    "problem",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Export:
    body: str
    rows: int
    truncated: bool  # the search has more orders than the cap


def _row(order: Order, masked: bool) -> dict[str, Any]:
    person = order.model_dump(mode="json", include={"buyer", "shipping_address"})
    if masked:
        person = mask_pii(person)
    buyer, address = person["buyer"], person["shipping_address"]
    return {
        "order_id": order.order_id,
        "platform": order.platform,
        "platform_order_id": order.platform_order_id,
        "status": order.status.value,
        "created_at": order.created_at.isoformat(),
        "buyer_id": buyer["id"],
        "buyer_name": buyer.get("name") or "",
        "buyer_phone": buyer.get("phone") or "",
        "receiver_name": address["name"],
        "receiver_phone": address["phone"],
        "city": address["city"],
        "address": " ".join(p for p in (address["line1"], address.get("line2")) if p),
        "currency": order.amounts.currency,
        "total": str(order.amounts.total),
        "lines": len(order.lines),
        "units": sum(line.quantity for line in order.lines),
        "problem": problem(order) or "",
    }


def _safe(value: Any) -> Any:
    """A text cell starting like a formula is prefixed with ' (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _orders(search: OrderSearch, cap: int) -> Iterator[Order]:
    positions: dict[str, str | None] | None = None
    seen = 0
    while True:
        page = repository.search_orders(search, PAGE, positions)
        for order in page.orders:
            if seen >= cap:
                return
            seen += 1
            yield order
        if page.positions is None:
            return
        positions = page.positions


def export_orders(search: OrderSearch, max_rows: int, *, masked: bool) -> Export:
    """The CSV of the search (newest first), at most `max_rows` rows; `truncated` when more matched."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    rows = 0
    truncated = False
    for order in _orders(search, max_rows + 1):
        if rows == max_rows:
            truncated = True
            break
        writer.writerow({k: _safe(v) for k, v in _row(order, masked).items()})
        rows += 1
    return Export(body=out.getvalue(), rows=rows, truncated=truncated)
