"""Review (审单) rules: pure functions of the order and a policy, no I/O. Each yields a hit or nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from functions.core.models import OrderIn, ReviewOutcome, RuleHit
from functions.core.rules import ReviewRules

Severity = Literal["hold", "reject"]

# Countries whose addresses are not deliverable without a postal code.
POSTAL_CODE_REQUIRED = frozenset({"CN", "US", "GB", "DE", "FR", "JP", "CA", "AU", "NL", "IT", "ES"})


# The review's thresholds are the strategy center's review section.
ReviewPolicy = ReviewRules


Rule = Callable[[OrderIn, ReviewPolicy], tuple[Severity, RuleHit] | None]


def totals_add_up(order: OrderIn, policy: ReviewPolicy) -> tuple[Severity, RuleHit] | None:
    lines_sum = sum((line.amount for line in order.lines), Decimal("0"))
    a = order.amounts
    if abs(lines_sum - a.subtotal) > policy.amount_tolerance:
        return "reject", RuleHit(
            code="SUBTOTAL_MISMATCH", message=f"lines add up to {lines_sum}, subtotal says {a.subtotal}"
        )
    expected_total = a.subtotal + a.shipping + a.tax - a.discount
    if abs(expected_total - a.total) > policy.amount_tolerance:
        return "reject", RuleHit(
            code="TOTAL_MISMATCH",
            message=f"subtotal + shipping + tax - discount = {expected_total}, total says {a.total}",
        )
    return None


def address_complete(order: OrderIn, policy: ReviewPolicy) -> tuple[Severity, RuleHit] | None:
    address = order.shipping_address
    if address.country in POSTAL_CODE_REQUIRED and not address.postal_code:
        return "hold", RuleHit(
            code="ADDRESS_INCOMPLETE", message=f"postal code missing for {address.country}"
        )
    if address.country in {"CN", "US", "CA", "AU"} and not address.region:
        return "hold", RuleHit(code="ADDRESS_INCOMPLETE", message="province/state missing")
    return None


def high_value(order: OrderIn, policy: ReviewPolicy) -> tuple[Severity, RuleHit] | None:
    if order.amounts.total > policy.hold_above_total:
        return "hold", RuleHit(
            code="HIGH_VALUE", message=f"total {order.amounts.total} above {policy.hold_above_total}"
        )
    quantity = sum(line.quantity for line in order.lines)
    if quantity > policy.hold_above_quantity:
        return "hold", RuleHit(
            code="HIGH_QUANTITY", message=f"{quantity} units above {policy.hold_above_quantity}"
        )
    return None


RULES: tuple[Rule, ...] = (totals_add_up, address_complete, high_value)


def review(order: OrderIn, policy: ReviewPolicy, rules: tuple[Rule, ...] = RULES) -> ReviewOutcome:
    """Reject beats hold beats approve; every rule that fired is reported, not only the first."""
    hits = [hit for rule in rules if (hit := rule(order, policy)) is not None]
    if any(severity == "reject" for severity, _ in hits):
        decision: Literal["approve", "hold", "reject"] = "reject"
    elif hits:
        decision = "hold"
    else:
        decision = "approve"
    return ReviewOutcome(decision=decision, reasons=[hit for _, hit in hits])
