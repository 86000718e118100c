"""Gift rule budgets (赠品策略): GIFTRULE#<id> / BUDGET counts the units a rule gave; GIFTRULE#<id> /
ORDER#<order id> is the order's claim on them. The claim stays when its units go back (it is marked
`released_at`), so a resent order never takes units twice and units never go back twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functions.core import clock
from functions.core.models.order_in import OrderLine
from functions.core.repository._dynamo import av, get, item, key
from functions.core.repository.unit_of_work import TransactionRejected, Write, commit, put, update
from functions.core.status import OrderStatus

GIFT_CLAIM_TAG = "gift-claim"
GIFT_BUDGET_TAG = "gift-budget"
# An order ending in one of these never ships its gifts: their units go back to the rules' budgets in the
# transaction that ends it (repository/orders.py). The order reaches one of them once (they are final).
GIFTS_RETURN_ON = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED})


def _budget_key(rule_id: str) -> dict[str, Any]:
    return key(f"GIFTRULE#{rule_id}", "BUDGET")


def _claim_key(rule_id: str, order_id: str) -> dict[str, Any]:
    return key(f"GIFTRULE#{rule_id}", f"ORDER#{order_id}")


def claim_gift_units(rule_id: str, order_id: str, units: int, budget: int) -> bool:
    """Take `units` of the rule's `budget` for `order_id`, in one transaction that fails whole when the
    budget would be exceeded (False). True also when this order claimed them before (a resend; also
    after the units went back, so a resend of an ended order never takes them again)."""
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


def gift_claim(rule_id: str, order_id: str) -> dict[str, Any] | None:
    """The order's claim on a rule's units (`units`, and `released_at` once they went back), or None."""
    return get(_claim_key(rule_id, order_id))


def gift_return_items(line: OrderLine, order_id: str) -> list[Write]:
    """Give a gift line's units back to its rule's budget (the order leaves the gift out, or ends
    without shipping): the claim is marked released on the condition that it was not, so the units go
    back once; with the change that drops the line or ends the order, in one transaction."""
    if line.gift_rule is None:
        return []
    return [
        update(
            _claim_key(line.gift_rule, order_id),
            "SET released_at = :at",
            "attribute_exists(pk) AND attribute_not_exists(released_at)",
            values={":at": av(clock.now().isoformat())},
            tag=GIFT_CLAIM_TAG,
        ),
        update(
            _budget_key(line.gift_rule),
            "ADD given :back",
            values={":back": av(-line.quantity)},
            tag=GIFT_BUDGET_TAG,
        ),
    ]


def ended_order_gift_items(order_id: str, lines: Sequence[OrderLine], target: OrderStatus) -> list[Write]:
    """The gift units an order gives back when a change moves it to `target`: all its gift lines' units
    if `target` ends it unshipped, else none."""
    if target not in GIFTS_RETURN_ON:
        return []
    return [w for line in lines for w in gift_return_items(line, order_id)]
