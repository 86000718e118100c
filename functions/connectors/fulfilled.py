"""Which of the platform's own line items a shipment fulfils, pure (ship-back).

Capture stores an order's lines as the OMS fulfils them: bundles (组合装) exploded into components, a
SKU reached from several platform lines merged (docs/products.md). A platform fulfils its own line
items, so ship-back turns what shipments carried back into the platform's lines through the stored
lines' origins: a component line's shipped units go to its origins in posted order, a bundle line is
fulfilled by the bundles whose every component has shipped, and the units a shipment completes are
those complete with it less those complete before it. The mapping (functions/connectors/mapping.py)
posts one line per SKU, so a posted line is named by its SKU; its units are the platform line items'
(`LineRef`) of that SKU, filled in the order the platform listed them. Lines the platform never sent
(a gift rule's) have no platform line and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from functions.connectors.contract import LineRef
from functions.core.models.order_in import OrderLine
from functions.core.models.shipping import Shipment


def _shipped_units(shipments: Sequence[Shipment]) -> dict[str, int]:
    units: dict[str, int] = {}
    for shipment in shipments:
        for line in shipment.lines:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
    return units


def posted_units_complete(lines: Sequence[OrderLine], shipped: Mapping[str, int]) -> dict[str, int]:
    """Units of each posted line (by its SKU) complete once `shipped` units of each stored line left:
    a bundle counts the bundles whose every component shipped."""
    complete: dict[str, int] = {}
    for line in lines:
        left = min(shipped.get(line.sku, 0), line.quantity)
        if not line.origins:
            complete[line.sku] = min(complete.get(line.sku, left), left)
            continue
        for origin in line.origins:
            units, left = min(left, origin.quantity), left - min(left, origin.quantity)
            whole = units if origin.units_per_bundle is None else units // origin.units_per_bundle
            complete[origin.sku] = min(complete.get(origin.sku, whole), whole)
    return complete


def _fill(refs: Sequence[LineRef], units: int) -> list[int]:
    """`units` of a posted line spread over its platform line items in their order."""
    filled = []
    for ref in refs:
        take = min(units, ref.quantity)
        filled.append(take)
        units -= take
    return filled


def fulfilled_refs(
    lines: Sequence[OrderLine], shipments: Sequence[Shipment], shipment_id: str, refs: Sequence[LineRef]
) -> list[LineRef] | None:
    """The platform line items (with units) shipment `shipment_id` completes; None when the order has
    no such shipment (the caller names every line then)."""
    ordered = sorted(shipments, key=lambda s: (s.created_at, s.shipment_id))
    position = next((i for i, s in enumerate(ordered) if s.shipment_id == shipment_id), None)
    if position is None:
        return None
    before = posted_units_complete(lines, _shipped_units(ordered[:position]))
    after = posted_units_complete(lines, _shipped_units(ordered[: position + 1]))
    by_sku: dict[str, list[LineRef]] = {}
    for ref in refs:
        by_sku.setdefault(ref.sku, []).append(ref)
    done: list[LineRef] = []
    for sku, items in by_sku.items():
        was, now = _fill(items, before.get(sku, 0)), _fill(items, after.get(sku, 0))
        done += [LineRef(r.sku, r.ref, n - w) for r, w, n in zip(items, was, now, strict=True) if n > w]
    return done
