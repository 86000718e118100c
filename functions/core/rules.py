"""The strategy center's rule set (订单策略中心): every tunable business rule, as data.

Pure data: stages read the rule set in force with `functions.core.repository.active_rules()` (the
loader lives beside the repository, so importing this module never loads boto3) and record
`rules.version` on what they decide. The defaults below are what a new shop runs with until an admin
stores a version (version 0 = defaults).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from functions.core.gift_rules import GiftRules


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _normalised_entries(entries: list[str]) -> list[str]:
    """Blacklist entries compare case- and spacing-insensitively; duplicates collapse."""
    out: list[str] = []
    for entry in entries:
        text = " ".join(entry.lower().split())
        if text and text not in out:
            out.append(text)
    return out


BlacklistEntry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PhoneEntry = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")]
AddressEntry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=300)]


class ReviewRules(_Section):
    """审单 thresholds, blacklists and flags (functions/review/logic.py applies them)."""

    hold_above_total: Decimal = Field(default=Decimal("5000"), ge=0)
    hold_above_quantity: int = Field(default=200, ge=1)
    amount_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    # Above this total an order is refused outright (None: never).
    reject_above_total: Decimal | None = Field(default=None, ge=0)
    # Buyer ids ("buyer-9" on any platform, or "tmall:buyer-9"), phone numbers, address fragments.
    blacklisted_buyers: list[BlacklistEntry] = Field(default=[], max_length=10_000)
    blacklisted_phones: list[PhoneEntry] = Field(default=[], max_length=10_000)
    blacklisted_addresses: list[AddressEntry] = Field(default=[], max_length=10_000)
    blacklist_action: Literal["reject", "hold"] = "reject"
    # Velocity: more than `velocity_max_orders` orders of one buyer (this one included) received within
    # `velocity_window_minutes` holds the order. None turns the rule off.
    velocity_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    velocity_max_orders: int | None = Field(default=None, ge=1, le=10_000)
    # Platform flags: a buyer remark (any, or only one containing a keyword), presale, platform risk mark.
    hold_on_buyer_remark: bool = True
    remark_keywords: list[BlacklistEntry] = Field(default=[], max_length=500)
    presale_action: Literal["hold", "pass"] = "hold"
    # A SKU not in the product master (or inactive): refuse the order at capture (422 UNKNOWN_SKU), or
    # take it and hold it for ops with reason UNKNOWN_SKU (nothing is reserved before a person decides).
    unknown_sku_action: Literal["refuse", "hold"] = "refuse"
    hold_on_platform_risk: bool = True
    # A hold nobody decides is escalated after this long (the timer is wired by the timeouts work).
    hold_escalation_minutes: int = Field(default=240, ge=1, le=30 * 24 * 60)

    @field_validator("blacklisted_buyers", "blacklisted_addresses", "remark_keywords")
    @classmethod
    def _normalise(cls, entries: list[str]) -> list[str]:
        return _normalised_entries(entries)

    @field_validator("blacklisted_phones")
    @classmethod
    def _digits_only(cls, entries: list[str]) -> list[str]:
        digits = {"".join(ch for ch in entry if ch.isdigit()) for entry in entries}
        if any(len(d) < 5 for d in digits):  # else the stored form would fail the pattern it came through
            raise ValueError("a blacklisted phone needs at least 5 digits")
        return sorted(digits)

    @model_validator(mode="after")
    def _reject_above_hold(self) -> ReviewRules:
        if self.reject_above_total is not None and self.reject_above_total < self.hold_above_total:
            raise ValueError(
                f"reject_above_total ({self.reject_above_total}) must not be below "
                f"hold_above_total ({self.hold_above_total})"
            )
        return self


class AllocationRules(_Section):
    """Sourcing (docs/inventory.md): which warehouse serves an order, and what happens when none can."""

    # Earlier is preferred; warehouses not listed come after, the one with most of the order first.
    warehouse_priority: list[str] = ["WH-MAIN"]
    # Warehouse -> shipping regions it serves (matched against the address's region, then its country).
    # A warehouse that serves the order's region is preferred over priority.
    warehouse_regions: dict[str, list[str]] = {}
    # No single warehouse has everything: split into several shipments (True) or wait for stock (False).
    allow_split: bool = True
    # Not enough stock anywhere: reject the order, or backorder it (wait for a restock, bounded).
    out_of_stock: Literal["backorder", "reject"] = "reject"
    backorder_retry_minutes: int = Field(default=60, ge=1, le=24 * 60)
    backorder_max_hours: int = Field(default=72, ge=1, le=30 * 24)
    backorder_max_attempts: int = Field(default=200, ge=1, le=1000)
    # 合单: orders of one buyer to one address allocated within this window ship together (0 = off).
    merge_window_minutes: int = Field(default=0, ge=0, le=24 * 60)
    merge_max_orders: int = Field(default=5, ge=2, le=10)
    # Flash sales: SKU -> number of stock counter items (shards), applied at the SKU's next stock sync.
    hot_sku_shards: dict[str, Annotated[int, Field(ge=1, le=32)]] = {}


class PaymentRules(_Section):
    timeout_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    timeout_minutes_by_platform: dict[str, int] = {}
    # 定金/尾款: the balance is due this long after receipt unless the platform sends balance_due_at;
    # unpaid by then, the order is cancelled and its deposit refunded or kept.
    balance_timeout_hours: int = Field(default=72, ge=1, le=90 * 24)
    deposit_on_balance_timeout: Literal["refund", "keep"] = "refund"


class AfterSalesRules(_Section):
    """After-sales automation (docs/aftersales.md; functions/aftersales/logic.py applies them)."""

    # A case whose value is below this is approved without a person, for a buyer in good standing.
    auto_approve_below: Decimal = Field(default=Decimal("200"), ge=0)
    # A return (or exchange) of goods worth less than this needs no return: refund (or replace) at once.
    refund_without_return_below: Decimal = Field(default=Decimal("30"), ge=0)
    # Cases on a shipped order may be opened this many days after it shipped.
    return_window_days: int = Field(default=7, ge=1, le=90)
    # Good standing: not blacklisted (review.blacklisted_buyers) and fewer than `good_standing_max_cases`
    # other after-sales cases opened in the last `good_standing_window_days`.
    good_standing_max_cases: int = Field(default=3, ge=1, le=1000)
    good_standing_window_days: int = Field(default=90, ge=1, le=365)
    # After approval the buyer has this long to ship the return; then the case closes by itself.
    return_ship_days: int = Field(default=7, ge=1, le=60)


# Carrier codes name the carrier everywhere: shipments, rules, and its webhook's X-OMS-Carrier header.
CarrierCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
Weight = Annotated[Decimal, Field(ge=0, le=100_000)]


class CarrierRule(_Section):
    """One carrier rule: every condition given must hold (an empty list or None matches anything).

    `destinations` match the address's region, then its country (as warehouse_regions does). Weight is
    the parcel's (the product master's weight x quantity); value is the parcel's lines at their unit prices.
    """

    carrier: CarrierCode
    warehouses: list[str] = []
    destinations: list[str] = []
    min_weight_kg: Weight | None = None
    max_weight_kg: Weight | None = None  # inclusive
    min_value: Decimal | None = Field(default=None, ge=0)
    max_value: Decimal | None = Field(default=None, ge=0)  # inclusive


class CarrierRules(_Section):
    """Which carrier takes a parcel (docs/shipping.md): the first matching rule, then the country map,
    then the default. Virtual lines need no carrier. Also each carrier's tracking SLA."""

    default_carrier: CarrierCode = "SF"
    carrier_by_country: dict[str, CarrierCode] = {}
    rules: list[CarrierRule] = Field(default=[], max_length=200)
    # A SKU's weight comes from the product master; one without a weight there weighs this much a unit.
    default_weight_kg: Weight = Decimal("0.5")
    # A shipment with no tracking progress for this long is flagged delayed (per carrier, or default).
    progress_sla_hours: int = Field(default=48, ge=1, le=30 * 24)
    progress_sla_hours_by_carrier: dict[CarrierCode, Annotated[int, Field(ge=1, le=30 * 24)]] = {}

    def sla_hours(self, carrier: str) -> int:
        return self.progress_sla_hours_by_carrier.get(carrier, self.progress_sla_hours)


class RuleSet(_Section):
    version: int = Field(default=0, ge=0)
    # Factories, not instances: an instance would build every section's validator at import, in every
    # function that imports this module, where most never read a rule set.
    review: ReviewRules = Field(default_factory=ReviewRules)
    allocation: AllocationRules = Field(default_factory=AllocationRules)
    payment: PaymentRules = Field(default_factory=PaymentRules)
    aftersales: AfterSalesRules = Field(default_factory=AfterSalesRules)
    carriers: CarrierRules = Field(default_factory=CarrierRules)
    gifts: GiftRules = Field(default_factory=GiftRules)  # 赠品策略 (functions/core/gift_rules.py)
