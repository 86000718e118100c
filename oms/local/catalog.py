"""Seeding the product master for local runs, simulations and the test driver.

Capture refuses SKUs the master does not know, so whatever seeds stock or posts orders locally
registers its SKUs first: physical by default, virtual (kind `service`) when asked.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from functions.core import repository
from functions.core.models.base import SKU_PATTERN
from functions.core.products import Product, ProductKind, VirtualKind

SEEDED_BY = "system:seed"
_SKU = re.compile(SKU_PATTERN)


def register_products(
    skus: Iterable[str], *, virtual: Iterable[str] = (), weights_kg: Mapping[str, Decimal] | None = None
) -> None:
    """Add every SKU the master does not know yet (a known SKU is left as it is)."""
    virtual_skus = set(virtual)
    wanted = {sku for sku in skus if isinstance(sku, str) and _SKU.match(sku)} | virtual_skus
    known = repository.get_products(wanted)
    for sku in sorted(wanted - known.keys()):
        is_virtual = sku in virtual_skus
        product = Product(
            sku=sku,
            version=1,
            kind=ProductKind.VIRTUAL if is_virtual else ProductKind.PHYSICAL,
            virtual_kind=VirtualKind.SERVICE if is_virtual else None,
            weight_kg=(weights_kg or {}).get(sku),
            saved_by=SEEDED_BY,
        )
        with contextlib.suppress(repository.StaleProductError):  # a concurrent caller registered it
            repository.save_product(product, replaces=0)


def register_order_products(body: Any) -> None:
    """Register the SKUs an order body (a dict as posted) names; virtual lines become virtual products."""
    lines = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(lines, list):
        return
    entries = [line for line in lines if isinstance(line, dict) and isinstance(line.get("sku"), str)]
    register_products(
        (line["sku"] for line in entries),
        virtual=(line["sku"] for line in entries if line.get("virtual") is True and _SKU.match(line["sku"])),
    )
