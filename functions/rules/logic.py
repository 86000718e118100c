"""Strategy center (订单策略中心): rule documents as written, what changed between versions, dry-run diffs.

Pure: documents and decisions in, versions and reports out. Validation is the RuleSet model itself
(functions/core/rules.py): a document that does not validate is refused before anything is written.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.core.gift_rules import GiftRules
from functions.core.models.orders import Order, ReviewOutcome, RuleHit
from functions.core.rules import ReviewRules, RuleSet

_READ_ONLY = {"comment", "saved_at", "saved_by"}


class RulesUpdate(RuleSet):
    """Body of PUT /rules: the whole rule set, as GET /rules returns it.

    `version` is the version the editor started from (optimistic lock): the change is stored as the next
    version only if that is still the version in force. `saved_at` / `saved_by` are read-only (ignored),
    so a GET -> edit -> PUT round trip works unchanged.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=0)
    comment: str | None = Field(default=None, max_length=500)
    saved_at: datetime | None = None
    saved_by: str | None = None

    def as_version(self, version: int) -> RuleSet:
        return RuleSet.model_validate({**self.model_dump(exclude=_READ_ONLY), "version": version})


class RulesProposal(RulesUpdate):
    """Body of POST /rules/dry-run: a rule set that would be PUT; its version is not checked."""

    version: int = Field(default=0, ge=0)


def document(rules: RuleSet) -> dict[str, Any]:
    """What is stored and served: JSON types only (Decimals as strings, exactly as written)."""
    return rules.model_dump(mode="json")


def changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every setting that differs (the version number itself aside)."""
    paths: list[str] = []
    for key in sorted(set(before) | set(after)):
        if not prefix and key == "version":
            continue
        path = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            paths += changes(old, new, f"{path}.")
        elif old != new:
            paths.append(path)
    return paths


# ---------------------------------------------------------------- dry run


class DecisionChange(BaseModel):
    order_id: str
    status: str
    decided_under: int | None  # the rules version the order was actually reviewed under
    recorded: str | None  # the decision review recorded then
    current: ReviewOutcome  # the decision under the rules in force now
    proposed: ReviewOutcome  # the decision under the proposed rules


class GiftChange(BaseModel):
    order_id: str
    current: list[str]  # the gift SKUs the rules in force would give the order ("<rule>:<sku>")
    proposed: list[str]  # and the proposed rules


class DryRunReport(BaseModel):
    current_version: int
    examined: int
    changed: list[DecisionChange]
    transitions: dict[str, int]  # "approve->hold": how many orders would move that way
    gifts_changed: list[GiftChange] = []  # orders the proposed gift rules would give other gifts


def compare(order: Order, current: ReviewOutcome, proposed: ReviewOutcome) -> DecisionChange | None:
    """The order, if the proposed rules decide it differently from the rules in force."""
    if current.decision == proposed.decision:
        return None
    return DecisionChange(
        order_id=order.order_id,
        status=order.status,
        decided_under=order.rules_version,
        recorded=order.review.decision if order.review else None,
        current=current,
        proposed=proposed,
    )


def report(
    current_version: int,
    examined: int,
    changed: list[DecisionChange],
    gifts_changed: list[GiftChange] | None = None,
) -> DryRunReport:
    moves = Counter(f"{c.current.decision}->{c.proposed.decision}" for c in changed)
    return DryRunReport(
        current_version=current_version,
        examined=examined,
        changed=changed,
        transitions=dict(sorted(moves.items())),
        gifts_changed=gifts_changed or [],
    )


def as_captured(outcome: ReviewOutcome, policy: ReviewRules, unknown_skus: tuple[str, ...]) -> ReviewOutcome:
    """What capture makes of an order naming SKUs the product master lacks (or has inactive): with
    `unknown_sku_action` "hold" review holds it (the review rule); with "refuse" capture refuses it
    (422 UNKNOWN_SKU), which the dry run shows as a rejection with that reason."""
    if not unknown_skus or policy.unknown_sku_action == "hold":
        return outcome
    named = ", ".join(unknown_skus)
    refused = RuleHit(code="UNKNOWN_SKU", message=f"refused at capture: not active products: {named}")
    return ReviewOutcome(decision="reject", reasons=[refused])


def gifts_for(order: Order, gifts: GiftRules, eligible: frozenset[str]) -> list[str]:
    """The gifts (`<rule>:<sku>`) the rules would give the order as capture matches them: each rule
    once, one gift SKU from the first rule giving it, only products eligible as gifts now. The SKUs it
    names are its lines' and the bundles they came from; a gift already given is no line it named."""
    lines = [line for line in order.lines if line.gift_rule is None]
    named = {line.sku for line in lines} | {o.sku for line in lines for o in line.origins or ()}
    found: dict[str, str] = {}
    for rule in gifts.rules:
        givable = rule.gift_sku in eligible and rule.gift_sku not in named | found.keys()
        if givable and rule.matches(order.platform, order.amounts.total, named, order.placed_at):
            found[rule.gift_sku] = f"{rule.id}:{rule.gift_sku}"
    return list(found.values())
