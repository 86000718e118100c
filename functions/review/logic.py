"""Review (审单) rules: pure functions of the order, a policy and a few facts, no I/O.

Each rule yields nothing (pass), or a severity ("hold" or "reject") with a typed reason (`ReasonCode`).
`review` runs every rule and reports every one that fired: reject beats hold beats approve.

Facts the rules cannot compute from the order alone (how many orders this buyer placed lately) are read by
the service through the repository and passed in as `ReviewFacts`, so the rules stay pure and testable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from functions.core.models.order_in import Address, OrderIn
from functions.core.models.orders import ReviewOutcome, RuleHit
from functions.core.rules import ReviewRules

Severity = Literal["hold", "reject"]
Decision = Literal["approve", "hold", "reject"]


class ReasonCode(StrEnum):
    """Every reason a rule can give, so queues and dashboards can filter on a closed set."""

    SUBTOTAL_MISMATCH = "SUBTOTAL_MISMATCH"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    ADDRESS_INCOMPLETE = "ADDRESS_INCOMPLETE"
    ADDRESS_IMPLAUSIBLE = "ADDRESS_IMPLAUSIBLE"
    BLACKLISTED_BUYER = "BLACKLISTED_BUYER"
    BLACKLISTED_PHONE = "BLACKLISTED_PHONE"
    BLACKLISTED_ADDRESS = "BLACKLISTED_ADDRESS"
    AMOUNT_LIMIT = "AMOUNT_LIMIT"
    HIGH_VALUE = "HIGH_VALUE"
    HIGH_QUANTITY = "HIGH_QUANTITY"
    BUYER_VELOCITY = "BUYER_VELOCITY"
    BUYER_REMARK = "BUYER_REMARK"
    PRESALE = "PRESALE"
    PLATFORM_RISK = "PLATFORM_RISK"
    UNKNOWN_SKU = "UNKNOWN_SKU"  # taken at capture under review.unknown_sku_action "hold"
    # Not a rule: an order ops intercepted with action "hold" (functions/intercept).
    INTERCEPTED = "INTERCEPTED"
    # Not a rule: a replacement order (reship, exchange) the OMS created for an order already reviewed.
    REPLACEMENT = "REPLACEMENT"


# Countries whose addresses are not deliverable without a postal code.
POSTAL_CODE_REQUIRED = frozenset({"CN", "US", "GB", "DE", "FR", "JP", "CA", "AU", "NL", "IT", "ES"})

# What a postal code looks like where we know (upper-cased, surrounding spaces removed).
POSTAL_CODE_FORMATS: dict[str, re.Pattern[str]] = {
    "CN": re.compile(r"^\d{6}$"),
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "JP": re.compile(r"^\d{3}-?\d{4}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
    "IT": re.compile(r"^\d{5}$"),
    "ES": re.compile(r"^\d{5}$"),
    "AU": re.compile(r"^\d{4}$"),
    "NL": re.compile(r"^\d{4} ?[A-Z]{2}$"),
    "CA": re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
}

# Address text that is filler, not an address.
PLACEHOLDERS = frozenset(
    {"test", "testing", "na", "n a", "none", "null", "unknown", "xxx", "xx", "x", "asdf", "tbd", "aaa"}
    | {"待定", "无", "测试", "不详"}
)

# A dialable number has between these many digits (E.164 allows at most 15).
PHONE_DIGITS = range(7, 16)


@dataclass(frozen=True)
class ReviewFacts:
    """What the service looked up for the rules: other orders of this buyer within the velocity window."""

    recent_orders_by_buyer: int = 0
    unknown_skus: tuple[str, ...] = ()  # the order's SKUs the product master lacks (or has inactive)


NO_FACTS = ReviewFacts()

# The review's thresholds are the strategy center's review section.
ReviewPolicy = ReviewRules

Hit = tuple[Severity, RuleHit]
Rule = Callable[[OrderIn, ReviewPolicy, ReviewFacts], Hit | None]


def _hit(severity: Severity, code: ReasonCode, message: str) -> Hit:
    return severity, RuleHit(code=code.value, message=message)


def _words(text: str) -> str:
    """Lower-case, punctuation to spaces, spacing collapsed: 'No. 8,  Fraud Rd.' -> 'no 8 fraud rd'."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


# ---------------------------------------------------------------- amounts


def totals_add_up(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    lines_sum = sum((line.amount for line in order.lines), Decimal("0"))
    a = order.amounts
    if abs(lines_sum - a.subtotal) > policy.amount_tolerance:
        return _hit(
            "reject",
            ReasonCode.SUBTOTAL_MISMATCH,
            f"lines add up to {lines_sum}, subtotal says {a.subtotal}",
        )
    expected_total = a.subtotal + a.shipping + a.tax - a.discount
    if abs(expected_total - a.total) > policy.amount_tolerance:
        return _hit(
            "reject",
            ReasonCode.TOTAL_MISMATCH,
            f"subtotal + shipping + tax - discount = {expected_total}, total says {a.total}",
        )
    return None


# ---------------------------------------------------------------- address


def address_complete(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    address = order.shipping_address
    if address.country in POSTAL_CODE_REQUIRED and not address.postal_code:
        return _hit("hold", ReasonCode.ADDRESS_INCOMPLETE, f"postal code missing for {address.country}")
    if address.country in {"CN", "US", "CA", "AU"} and not address.region:
        return _hit("hold", ReasonCode.ADDRESS_INCOMPLETE, "province/state missing")
    return None


def _implausibility(address: Address) -> str | None:
    pattern = POSTAL_CODE_FORMATS.get(address.country)
    postal = (address.postal_code or "").strip().upper()
    if postal and pattern is not None and not pattern.match(postal):
        return f"postal code does not look like a {address.country} postal code"
    for field, value in (("line1", address.line1), ("city", address.city)):
        words = _words(value)
        if words in PLACEHOLDERS:
            return f"{field} is a placeholder, not an address"
        if not any(ch.isalpha() for ch in value):
            return f"{field} has no letters"
    if len(_digits(address.phone)) not in PHONE_DIGITS:
        return f"phone number has {len(_digits(address.phone))} digits"
    return None


def address_plausible(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    """A complete address can still be nonsense: a malformed postal code, 'test', a phone that cannot ring."""
    problem = _implausibility(order.shipping_address)
    return _hit("hold", ReasonCode.ADDRESS_IMPLAUSIBLE, problem) if problem else None


# ---------------------------------------------------------------- blacklists


def _address_text(address: Address) -> str:
    parts = (address.line1, address.line2, address.city, address.region, address.postal_code, address.country)
    return _words(" ".join(p for p in parts if p))


def blacklisted(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    """Buyer id (on any platform, or platform-qualified), phone (buyer's or recipient's), address fragment."""
    severity = policy.blacklist_action
    buyer = order.buyer.id.lower()
    if buyer in policy.blacklisted_buyers or f"{order.platform}:{buyer}" in policy.blacklisted_buyers:
        return _hit(severity, ReasonCode.BLACKLISTED_BUYER, f"buyer {order.buyer.id} is blacklisted")
    phones = {_digits(p) for p in (order.buyer.phone, order.shipping_address.phone) if p}
    if phones & set(policy.blacklisted_phones):
        return _hit(severity, ReasonCode.BLACKLISTED_PHONE, "a phone number of the order is blacklisted")
    text = _address_text(order.shipping_address)
    for entry in policy.blacklisted_addresses:
        fragment = _words(entry)
        if fragment and fragment in text:
            return _hit(severity, ReasonCode.BLACKLISTED_ADDRESS, "shipping address matches the blacklist")
    return None


# ---------------------------------------------------------------- risk thresholds


def high_value(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    total = order.amounts.total
    if policy.reject_above_total is not None and total > policy.reject_above_total:
        return _hit(
            "reject", ReasonCode.AMOUNT_LIMIT, f"total {total} above the limit {policy.reject_above_total}"
        )
    if total > policy.hold_above_total:
        return _hit("hold", ReasonCode.HIGH_VALUE, f"total {total} above {policy.hold_above_total}")
    quantity = sum(line.quantity for line in order.lines)
    if quantity > policy.hold_above_quantity:
        return _hit("hold", ReasonCode.HIGH_QUANTITY, f"{quantity} units above {policy.hold_above_quantity}")
    return None


# ---------------------------------------------------------------- abnormal patterns


def buyer_velocity(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    """Many orders from one buyer in a short time: card testing, scalping, a resend storm."""
    limit = policy.velocity_max_orders
    if limit is None:
        return None
    count = facts.recent_orders_by_buyer + 1  # this order included
    if count > limit:
        return _hit(
            "hold",
            ReasonCode.BUYER_VELOCITY,
            f"{count} orders from this buyer within {policy.velocity_window_minutes} min (limit {limit})",
        )
    return None


# ---------------------------------------------------------------- platform flags


def buyer_remark(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    """A buyer remark ("please send the blue one", "change address") needs a person to read it."""
    remark = (order.remark or "").strip()
    if not remark or not policy.hold_on_buyer_remark:
        return None
    if not policy.remark_keywords:
        return _hit("hold", ReasonCode.BUYER_REMARK, "buyer left a remark")
    lowered = remark.lower()
    for keyword in policy.remark_keywords:
        if keyword in lowered:
            return _hit("hold", ReasonCode.BUYER_REMARK, f"buyer remark mentions '{keyword}'")
    return None


def presale(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    flags = order.flags
    if flags is None or not flags.presale or policy.presale_action == "pass":
        return None
    when = f"; ships after {flags.ships_after.date().isoformat()}" if flags.ships_after else ""
    return _hit("hold", ReasonCode.PRESALE, f"presale order{when}")


def platform_risk(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    flags = order.flags
    if flags is None or not flags.risk_flagged or not policy.hold_on_platform_risk:
        return None
    return _hit("hold", ReasonCode.PLATFORM_RISK, "the platform's risk control flagged this order")


def unknown_sku(order: OrderIn, policy: ReviewPolicy, facts: ReviewFacts = NO_FACTS) -> Hit | None:
    if not facts.unknown_skus:
        return None
    named = ", ".join(facts.unknown_skus)
    return _hit("hold", ReasonCode.UNKNOWN_SKU, f"not active products in the product master: {named}")


RULES: tuple[Rule, ...] = (
    totals_add_up,
    address_complete,
    address_plausible,
    blacklisted,
    high_value,
    buyer_velocity,
    buyer_remark,
    presale,
    platform_risk,
    unknown_sku,
)


def decide(hits: list[Hit]) -> Decision:
    if any(severity == "reject" for severity, _ in hits):
        return "reject"
    return "hold" if hits else "approve"


def review(
    order: OrderIn,
    policy: ReviewPolicy,
    rules: tuple[Rule, ...] = RULES,
    facts: ReviewFacts = NO_FACTS,
) -> ReviewOutcome:
    """Reject beats hold beats approve; every rule that fired is reported, not only the first."""
    hits = [hit for rule in rules if (hit := rule(order, policy, facts)) is not None]
    return ReviewOutcome(decision=decide(hits), reasons=[hit for _, hit in hits])


def approve_replacement(replaced_order_id: str) -> ReviewOutcome:
    """A replacement ships goods of an order that passed review and was paid: the rules do not run again
    (its zero prices and copied address would only trip them)."""
    hit = RuleHit(code=ReasonCode.REPLACEMENT, message=f"replaces order {replaced_order_id}")
    return ReviewOutcome(decision="approve", reasons=[hit])
