"""Gift rule budgets (赠品策略): GIFTRULE#<id> / BUDGET counts the units a rule gave; GIFTRULE#<id> /
ORDER#<order id> marks the order that took them, so a resent order never takes units twice."""

from __future__ import annotations

from typing import Any

from functions.core.models.order_in import OrderLine
from functions.core.repository._dynamo import av, get, item, key
from functions.core.repository.unit_of_work import TransactionRejected, Write, commit, delete, put, update

GIFT_CLAIM_TAG = "gift-claim"
GIFT_BUDGET_TAG = "gift-budget"


def _budget_key(rule_id: str) -> dict[str, Any]:
    return key(f"GIFTRULE#{rule_id}", "BUDGET")


def claim_gift_units(rule_id: str, order_id: str, units: int, budget: int) -> bool:
    """Take `units` of the rule's `budget` for `order_id`, in one transaction that fails whole when the
    budget would be exceeded (False). True also when this order took them before (a resend)."""
    claim = put(
        item({"pk": f"GIFTRULE#{rule_id}", "sk": f"ORDER#{order_id}", "units": units}),
        "attribute_not_exists(pk)",
        tag=GIFT_CLAIM_TAG,
    )
    counter = update(
        _budget_key(rule_id),
        "ADD given :units",
        "attribute_not_exists(given) OR given <= :room",
        values={":units": av(units), ":room": av(budget - units)},
        tag=GIFT_BUDGET_TAG,
    )
    try:
        commit([claim, counter])
    except TransactionRejected as rejected:
        return rejected.failed(GIFT_CLAIM_TAG)  # this order's units were taken before: still given
    return True


def gift_units_given(rule_id: str) -> int:
    found = get(_budget_key(rule_id))
    return int(found.get("given", 0)) if found is not None else 0


def gift_return_items(line: OrderLine, order_id: str) -> list[Write]:
    """Give a gift line's units back to its rule's budget (the order leaves the gift out): the order's
    claim goes, so this happens once; with the change that drops the line, in one transaction."""
    if line.gift_rule is None:
        return []
    claim = key(f"GIFTRULE#{line.gift_rule}", f"ORDER#{order_id}")
    return [
        delete(claim, "attribute_exists(pk)", tag=GIFT_CLAIM_TAG),
        update(
            _budget_key(line.gift_rule),
            "ADD given :back",
            values={":back": av(-line.quantity)},
            tag=GIFT_BUDGET_TAG,
        ),
    ]
