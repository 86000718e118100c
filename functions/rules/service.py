"""Strategy center storage: versions in DynamoDB (RULES / V#<n>, RULES / CURRENT), changed at run time.

Every stage reads `active_rules()` when it decides, so a stored version applies to the next order with
no restart or redeploy. A PUT validates the whole document first (pydantic): a bad document is refused
with the field named and nothing is written, so the version in force stays in force.
"""

from __future__ import annotations

from typing import Any

from functions.core import clock, repository
from functions.core.errors import RefusedError
from functions.core.gift_rules import gift_problem
from functions.core.models.orders import Order
from functions.core.repository import active_rules
from functions.core.rules import RuleSet
from functions.core.status import OrderStatus
from functions.review.logic import ReviewFacts, review
from functions.rules.logic import (
    DryRunReport,
    GiftChange,
    RulesProposal,
    RulesUpdate,
    as_captured,
    changes,
    compare,
    document,
    gifts_for,
    report,
)


def _view(stored: repository.StoredRules | None) -> dict[str, Any]:
    if stored is None:  # nothing stored yet: the defaults, version 0
        return {**document(RuleSet()), "saved_at": None, "saved_by": None, "comment": None}
    return {
        **document(RuleSet.model_validate(stored.document)),
        "saved_at": stored.saved_at,
        "saved_by": stored.saved_by,
        "comment": stored.comment,
    }


def current() -> dict[str, Any]:
    return _view(repository.get_current_rules_record())


def update(body: RulesUpdate, actor: str) -> dict[str, Any]:
    """Store `body` as the next version if the version in force is still `body.version`."""
    in_force = repository.get_current_rules_record()
    current_version = in_force.version if in_force is not None else 0
    if body.version != current_version:
        raise _stale(body.version, current_version)
    new = body.as_version(current_version + 1)
    _check_gifts(new)
    stored = repository.StoredRules(
        version=new.version,
        document=document(new),
        saved_at=clock.now().isoformat(),
        saved_by=actor,
        comment=body.comment,
    )
    try:
        repository.save_rules(stored, replaces=current_version)
    except repository.StaleRulesError:
        latest = repository.get_current_rules_record()
        raise _stale(body.version, latest.version if latest else 0) from None
    return _view(stored)


def _check_gifts(rules: RuleSet) -> None:
    """A gift rule gives an active, gift-eligible product that is no bundle (422 names the rule)."""
    products = repository.get_products(rule.gift_sku for rule in rules.gifts.rules)
    problems = [
        (index, rule.gift_sku, why)
        for index, rule in enumerate(rules.gifts.rules)
        if (why := gift_problem(products.get(rule.gift_sku))) is not None
    ]
    if problems:
        raise RefusedError(
            "INVALID_GIFT_RULE",
            "; ".join(f"gifts.rules[{i}].gift_sku: {sku} is {why}" for i, sku, why in problems),
            status=422,
            fields=[
                {
                    "loc": ["body", "gifts", "rules", i, "gift_sku"],
                    "field": f"body.gifts.rules.{i}.gift_sku",
                    "type": "invalid_gift",
                    "message": f"{sku} is {why}",
                }
                for i, sku, why in problems
            ],
        )


def _stale(edited: int, in_force: int) -> RefusedError:
    return RefusedError(
        "STALE_RULES",
        f"the rules changed since version {edited} (version {in_force} is in force); "
        "GET /rules, re-apply your change and PUT it with that version",
    )


def versions(limit: int) -> list[dict[str, Any]]:
    """Newest first, each with the settings it changed compared with the version before it."""
    stored = repository.list_rules_versions(limit)
    entries = []
    for i, entry in enumerate(stored):
        if i + 1 < len(stored):
            before: dict[str, Any] | None = stored[i + 1].document
        elif entry.version > 1:
            previous = repository.get_rules_version(entry.version - 1)
            before = previous.document if previous else None
        else:
            before = document(RuleSet())
        entries.append(
            {
                "version": entry.version,
                "saved_at": entry.saved_at,
                "saved_by": entry.saved_by,
                "comment": entry.comment,
                "changes": changes(before, entry.document) if before is not None else None,
            }
        )
    return entries


def version(number: int) -> dict[str, Any]:
    if number == 0:
        return _view(None)
    stored = repository.get_rules_version(number)
    if stored is None:
        raise RefusedError("NOT_FOUND", f"rules version {number} does not exist", status=404)
    return _view(stored)


# ---------------------------------------------------------------- dry run

# Orders review has decided on (RECEIVED ones have not been reviewed yet).
_REVIEWED = [s for s in OrderStatus if s != OrderStatus.RECEIVED]


def recent_reviewed_orders(limit: int) -> list[Order]:
    """The most recently received orders that have a review decision (read from the status index)."""
    found: dict[str, Order] = {}
    for status in _REVIEWED:
        for order in repository.list_orders_by_status(status, limit):
            if order.review is not None:
                found[order.order_id] = order
    return sorted(found.values(), key=lambda o: (o.created_at, o.order_id), reverse=True)[:limit]


def dry_run(proposal: RulesProposal, limit: int) -> DryRunReport:
    """Re-decide recent orders under the rules in force and under `proposal`; list where they differ.

    Nothing is written. Velocity counts are read for each order's own receipt time and each rule set's
    window, so the comparison is what each rule set would have decided when the order arrived.
    """
    in_force = active_rules()
    proposed = proposal.as_version(in_force.version + 1)
    _check_gifts(proposed)  # as PUT /rules would: a gift that is no eligible product is refused (422)
    orders = recent_reviewed_orders(limit)
    # Looked up as capture does, once for every order: which SKUs the master lacks, which gifts may be given.
    gift_skus = {rule.gift_sku for rules in (in_force, proposed) for rule in rules.gifts.rules}
    products = repository.get_products({line.sku for order in orders for line in order.lines} | gift_skus)
    eligible = frozenset(sku for sku in gift_skus if gift_problem(products.get(sku)) is None)
    changed, gifts_changed = [], []
    for order in orders:
        unknown = tuple(line.sku for line in order.lines if not (p := products.get(line.sku)) or not p.active)
        now_outcome = review(order, in_force.review, facts=_facts(order, in_force, unknown))
        new_outcome = review(order, proposed.review, facts=_facts(order, proposed, unknown))
        difference = compare(
            order,
            as_captured(now_outcome, in_force.review, unknown),
            as_captured(new_outcome, proposed.review, unknown),
        )
        if difference is not None:
            changed.append(difference)
        gifts_now = gifts_for(order, in_force.gifts, eligible)
        gifts_then = gifts_for(order, proposed.gifts, eligible)
        if gifts_now != gifts_then:
            gifts_changed.append(GiftChange(order_id=order.order_id, current=gifts_now, proposed=gifts_then))
    return report(in_force.version, len(orders), changed, gifts_changed)


def _facts(order: Order, rules: RuleSet, unknown: tuple[str, ...]) -> ReviewFacts:
    """As review gathers them: SKUs the master lacks are held for under "hold" (else capture refused)."""
    held_for = unknown if rules.review.unknown_sku_action == "hold" else ()
    if rules.review.velocity_max_orders is None:
        return ReviewFacts(unknown_skus=held_for)
    return ReviewFacts(
        recent_orders_by_buyer=repository.count_recent_orders(order, rules.review), unknown_skus=held_for
    )
