"""The strategy center's rule set (订单策略中心): every tunable business rule, as data.

Stages read `active_rules()` and record `rules.version` on what they decide. The defaults below are
what a new shop runs with until an admin stores a version (version 0 = defaults).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core import repository


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewRules(_Section):
    hold_above_total: Decimal = Field(default=Decimal("5000"), ge=0)
    hold_above_quantity: int = Field(default=200, ge=1)
    amount_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)


class AllocationRules(_Section):
    warehouse_priority: list[str] = ["WH-MAIN"]
    allow_split: bool = True
    out_of_stock: Literal["backorder", "reject"] = "reject"
    merge_window_minutes: int = Field(default=0, ge=0, le=24 * 60)


class PaymentRules(_Section):
    timeout_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    timeout_minutes_by_platform: dict[str, int] = {}


class AfterSalesRules(_Section):
    auto_approve_below: Decimal = Field(default=Decimal("200"), ge=0)
    refund_without_return_below: Decimal = Field(default=Decimal("30"), ge=0)
    return_window_days: int = Field(default=7, ge=1, le=90)


class CarrierRules(_Section):
    default_carrier: str = "SF"
    carrier_by_country: dict[str, str] = {}


class RuleSet(_Section):
    version: int = Field(default=0, ge=0)
    review: ReviewRules = ReviewRules()
    allocation: AllocationRules = AllocationRules()
    payment: PaymentRules = PaymentRules()
    aftersales: AfterSalesRules = AfterSalesRules()
    carriers: CarrierRules = CarrierRules()


def active_rules() -> RuleSet:
    """The rule set in force now: the stored current version, or the defaults."""
    stored = repository.get_current_rules()
    return RuleSet.model_validate(stored) if stored is not None else RuleSet()
