"""Gift rules of the strategy center (赠品策略), pure data: which orders get which gift, and how many
units each rule may give in all. Capture applies them (functions/ingest); the budget is a conditional
counter per rule (repository/gifts.py), so concurrent orders never give more than it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from functions.core.models.base import Sku
from functions.core.models.order_in import OrderLine
from functions.core.models.orders import Order, ShortLine
from functions.core.products import Product

GiftRuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]


class GiftRule(BaseModel):
    """Every condition given must hold (an empty list or None matches anything)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: GiftRuleId  # names the rule's budget counter: keep it when editing the rule, change it to restart
    gift_sku: Sku  # a product marked gift_eligible, not a bundle
    quantity: int = Field(default=1, ge=1, le=100)  # units given per matching order
    budget: int = Field(ge=1, le=10_000_000)  # units this rule may give in all, across every order
    active: bool = True
    min_total: Decimal | None = Field(default=None, ge=0)  # the order's amounts.total at least this
    skus: list[Sku] = Field(default=[], max_length=200)  # the order names any of these (as sold or exploded)
    platforms: list[str] = Field(default=[], max_length=50)
    starts_at: AwareDatetime | None = None  # placed_at within [starts_at, ends_at)
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def matches(self, platform: str, total: Decimal, skus: set[str], placed_at: datetime) -> bool:
        return (
            self.active
            and (self.min_total is None or total >= self.min_total)
            and (not self.skus or bool(skus.intersection(self.skus)))
            and (not self.platforms or platform in self.platforms)
            and (self.starts_at is None or placed_at >= self.starts_at)
            and (self.ends_at is None or placed_at < self.ends_at)
        )


class GiftRules(BaseModel):
    """Rules are tried in order; each gives its gift once per order at most."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    rules: list[GiftRule] = Field(default=[], max_length=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("gift rule ids must be unique")
        return self


def gift_problem(product: Product | None) -> str | None:
    """Why a product cannot be given as a gift, or None."""
    if product is None or not product.active:
        return "not an active product"
    if not product.gift_eligible:
        return "not gift_eligible in the product master"
    if product.is_bundle:
        return "a bundle"
    return None


def short_gifts(lines: Sequence[OrderLine], short: Sequence[ShortLine]) -> list[OrderLine]:
    """The gift lines to leave out when every line sourcing cannot serve is a gift (else none): a gift
    never holds an order back."""
    gifts = {line.sku: line for line in lines if line.gift_rule is not None}
    if not short or any(line.sku not in gifts for line in short):
        return []
    return [gifts[line.sku] for line in short]


def without_lines(order: Order, dropped: Sequence[OrderLine]) -> Order:
    gone = {line.sku for line in dropped}
    return order.model_copy(update={"lines": [line for line in order.lines if line.sku not in gone]})


def skipped(line: OrderLine, reason: str) -> dict[str, object]:
    """How a gift that was not given is recorded (history detail `gifts_skipped`)."""
    return {"rule": line.gift_rule, "sku": line.sku, "reason": reason}
