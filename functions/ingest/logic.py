"""Capture decisions with no I/O: the stored lines of an order, with bundles (组合装) exploded.

A bundle line becomes its components' lines, so reservation, allocation, shipping, returns and refunds
only ever see ordinary lines. The line's money is spread over the components by value (the master's
component `value` x units, or units alone when the bundle gives no values), exact to the cent by the
largest-remainder method. A SKU reached from several platform lines (two bundles, or a bundle and the
SKU on its own) is one stored line holding the sum, with one origin per platform line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from functions.core.gift_rules import GiftRule, GiftRules
from functions.core.line_origin import LineOrigin
from functions.core.models.order_in import OrderIn, OrderLine
from functions.core.products import Product

CENT = Decimal("0.01")
MAX_LINE_UNITS = 10_000  # OrderLine.quantity's bound
MAX_STORED_LINES = 100  # OrderIn.lines' bound


class LineProblem(ValueError):
    """A platform line that cannot be stored: `index` is its position in the order as posted."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def split_cents(total: Decimal, weights: Sequence[int | Decimal]) -> list[Decimal]:
    """`total` spread over `weights` in proportion, each share a whole number of cents, adding up to
    `total` exactly (largest remainder: the cents left after rounding down go to the largest fractional
    parts, the earlier share first on a tie). All-zero weights count as equal."""
    if not weights:
        return []
    cents = int((total / CENT).to_integral_value())
    ratios = [Fraction(weight) for weight in weights]
    if sum(ratios) <= 0:
        ratios = [Fraction(1)] * len(weights)
    whole = sum(ratios)
    quotas = [cents * ratio / whole for ratio in ratios]
    shares = [quota.numerator // quota.denominator for quota in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[: cents - sum(shares)]:
        shares[i] += 1
    return [Decimal(share) * CENT for share in shares]


@dataclass
class _Part:
    """Units of one SKU gathered from the platform lines that reach it."""

    sku: str
    virtual: bool
    name: str | None = None
    origins: list[LineOrigin] = field(default_factory=list)

    @property
    def quantity(self) -> int:
        return sum(origin.quantity for origin in self.origins)

    @property
    def amount(self) -> Decimal:
        return sum((origin.amount for origin in self.origins), Decimal("0.00"))


def _bundle_origins(index: int, line: OrderLine, bundle: Product) -> list[tuple[str, LineOrigin]]:
    weights = [(component.value or Decimal(1)) * component.quantity for component in bundle.components]
    shares = split_cents(line.amount, weights)
    return [
        (
            component.sku,
            LineOrigin(
                line=index,
                sku=line.sku,
                units_per_bundle=component.quantity,
                quantity=component.quantity * line.quantity,
                amount=share,
            ),
        )
        for component, share in zip(bundle.components, shares, strict=True)
    ]


def stored_lines(lines: Sequence[OrderLine], products: Mapping[str, Product]) -> list[OrderLine]:
    """The lines to store for the platform's `lines`: kinds from the master, bundles exploded.

    `products` holds every SKU named and every bundle's components (the caller checked they are known
    and active, or holds the order for a SKU it lacks: that line is stored as sent, physical). A line
    that is no bundle and shares its SKU with nothing is stored as sent, with the master's kind.
    LineProblem names the platform line whose explosion cannot be stored.
    """
    parts: dict[str, _Part] = {}
    for index, line in enumerate(lines):
        product = products.get(line.sku)
        if product is not None and product.is_bundle:
            reached = _bundle_origins(index, line, product)
        else:
            origin = LineOrigin(line=index, sku=line.sku, quantity=line.quantity, amount=line.amount)
            reached = [(line.sku, origin)]
        for sku, origin in reached:
            known = products.get(sku)
            part = parts.setdefault(sku, _Part(sku=sku, virtual=known is not None and known.virtual))
            if origin.units_per_bundle is None:
                part.name = line.name
            part.origins.append(origin)
            if part.quantity > MAX_LINE_UNITS:
                raise LineProblem(
                    index, f"{line.sku} needs {part.quantity} units of {sku}; a line holds {MAX_LINE_UNITS}"
                )
    if len(parts) > MAX_STORED_LINES:
        raise LineProblem(
            len(lines) - 1, f"the bundles explode into {len(parts)} lines; an order holds {MAX_STORED_LINES}"
        )
    by_index = dict(enumerate(lines))
    return [_line(part, by_index, products) for part in parts.values()]


def _line(part: _Part, sent: Mapping[int, OrderLine], products: Mapping[str, Product]) -> OrderLine:
    only = part.origins[0]
    if len(part.origins) == 1 and only.units_per_bundle is None:
        return sent[only.line].model_copy(update={"virtual": part.virtual})
    quantity, amount = part.quantity, part.amount
    try:
        return OrderLine(
            sku=part.sku,
            quantity=quantity,
            unit_price=(amount / quantity).quantize(CENT, rounding=ROUND_HALF_UP),
            name=part.name or products[part.sku].name or None,
            virtual=part.virtual,
            line_total=amount,
            origins=tuple(part.origins),
        )
    except ValidationError as err:  # bounds already checked; a value out of Money's range is left
        raise LineProblem(part.origins[0].line, f"{part.sku}: {err.errors()[0]['msg']}") from err


def bundle_view(lines: Sequence[OrderLine]) -> list[dict[str, Any]]:
    """The order's bundles as the platform sold them, each with its components: what GET /orders shows
    beside the stored (exploded) lines. Bundles in the order they were posted."""
    bundles: dict[int, dict[str, Any]] = {}
    for line in lines:
        for origin in line.origins or ():
            if origin.units_per_bundle is None:
                continue
            bundle = bundles.setdefault(
                origin.line,
                {
                    "line": origin.line,
                    "sku": origin.sku,
                    "quantity": origin.quantity // origin.units_per_bundle,
                    "amount": Decimal("0.00"),
                    "components": [],
                },
            )
            bundle["amount"] += origin.amount
            bundle["components"].append(
                {
                    "sku": line.sku,
                    "units_per_bundle": origin.units_per_bundle,
                    "quantity": origin.quantity,
                    "amount": str(origin.amount),
                }
            )
    return [
        {**bundle, "amount": str(bundle["amount"])}
        for _, bundle in sorted(bundles.items(), key=lambda kv: kv[0])
    ]


def gift_rules_for(order: OrderIn, lines: Sequence[OrderLine], gifts: GiftRules) -> list[GiftRule]:
    """The gift rules this order matches, in rule order, one per gift SKU (the first rule giving it)."""
    named = {line.sku for line in order.lines} | {line.sku for line in lines}
    found: dict[str, GiftRule] = {}
    for rule in gifts.rules:
        if rule.matches(order.platform, order.amounts.total, named, order.placed_at):
            found.setdefault(rule.gift_sku, rule)
    return list(found.values())


def gift_line(rule: GiftRule, product: Product) -> OrderLine:
    """A gift (赠品): the rule's units at zero price, reserved and shipped like any line."""
    return OrderLine(
        sku=rule.gift_sku,
        quantity=rule.quantity,
        unit_price=Decimal("0.00"),
        name=product.name or None,
        virtual=product.virtual,
        gift_rule=rule.id,
    )
