"""Review stage: decide on the order and record the decision with the rules that fired."""

from __future__ import annotations

from functions.core import repository
from functions.core.models import ReviewOutcome
from functions.core.rules import active_rules
from functions.core.status import OrderStatus
from functions.review.logic import review

_STATUS_FOR = {
    "approve": OrderStatus.APPROVED,
    "hold": OrderStatus.ON_HOLD,
    "reject": OrderStatus.REJECTED,
}


def review_order(order_id: str, execution_id: str | None) -> ReviewOutcome:
    order = repository.get_order(order_id)
    if order.review is not None and order.status != OrderStatus.RECEIVED:
        return order.review  # a retried task: the decision was already recorded
    outcome = review(order, active_rules().review)
    repository.transition(
        order,
        _STATUS_FOR[outcome.decision],
        event_type=f"review.{outcome.decision}",
        actor="stage:review",
        execution_id=execution_id,
        detail={"reasons": [hit.model_dump() for hit in outcome.reasons]},
        set_fields={"review": outcome.model_dump(mode="json")},
    )
    return outcome
