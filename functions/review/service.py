"""Review stage: decide on the order and record the decision, the rules that fired and the rules version."""

from __future__ import annotations

from datetime import datetime, timedelta

from functions.core import clock, repository
from functions.core.interception import ensure_not_intercepted
from functions.core.models.orders import Hold, Order, ReviewOutcome
from functions.core.observability import MetricName, bind_platform, count
from functions.core.repository import active_rules
from functions.core.rules import ReviewRules
from functions.core.stage import StageInput
from functions.core.status import OrderStatus
from functions.review.logic import ReviewFacts, approve_replacement, review

_METRIC_FOR = {  # rejections are counted with their reason
    "approve": MetricName.ORDERS_AUTO_APPROVED,
    "hold": MetricName.ORDERS_HELD,
}
_STATUS_FOR = {
    "approve": OrderStatus.APPROVED,
    "hold": OrderStatus.ON_HOLD,
    "reject": OrderStatus.REJECTED,
}


def gather_facts(order: Order, policy: ReviewRules) -> ReviewFacts:
    """What the rules need beyond the order: the buyer's other orders received within the velocity window.

    Every reviewed order is noted under its buyer (idempotent put), also while the velocity rule is off,
    so switching it on, or a dry run of it, has the history it needs.
    """
    buyer, platform = order.buyer.id, order.platform
    repository.record_buyer_order(platform, buyer, order.order_id, order.created_at)
    unknown: tuple[str, ...] = ()
    if policy.unknown_sku_action == "hold":  # else capture refused them: nothing to look up
        products = repository.get_products(line.sku for line in order.lines)
        unknown = tuple(line.sku for line in order.lines if not (p := products.get(line.sku)) or not p.active)
    if policy.velocity_max_orders is None:
        return ReviewFacts(unknown_skus=unknown)
    return ReviewFacts(
        recent_orders_by_buyer=repository.count_recent_orders(order, policy), unknown_skus=unknown
    )


class ReviewInput(StageInput):
    """The fast path says `defer_approval`: its next task, allocation, records an approval."""

    defer_approval: bool = False


class ReviewResult(ReviewOutcome):
    """The decision and the rules version it was taken under (what the fast path hands to allocation)."""

    rules_version: int
    recorded: bool = True  # False: an approval left for allocation's change to record (defer_approval)
    decided_at: datetime | None = None  # when it was decided (its history event's time if deferred)


def review_order(order_id: str, execution_id: str | None, *, defer_approval: bool = False) -> ReviewResult:
    """Decide and record the decision. `defer_approval` (the fast path, whose next task is allocation): an
    approval is returned, not written; allocation records it with its own change (docs/adr/0007), so a
    retried review decides again and writes nothing. A hold or a rejection is always written here."""
    order = repository.get_order(order_id)
    bind_platform(order.platform)
    ensure_not_intercepted(order, "review")
    if order.review is not None and order.status != OrderStatus.RECEIVED:  # a retried task: recorded
        return ReviewResult(**order.review.model_dump(), rules_version=order.rules_version or 0)
    rules = active_rules()  # read per order: a new rules version applies to the next order, no restart
    if order.replaces is not None:
        outcome = approve_replacement(order.replaces.order_id)
    else:
        outcome = review(order, rules.review, facts=gather_facts(order, rules.review))
    set_fields: dict[str, object] = {
        "review": outcome.model_dump(mode="json"),
        "rules_version": rules.version,
    }
    if outcome.decision == "hold":
        now = clock.now()
        hold = Hold(
            source="review",
            reasons=outcome.reasons,
            since=now,
            resume="allocate",
            escalate_at=now + timedelta(minutes=rules.review.hold_escalation_minutes),
        )
        set_fields["hold"] = hold.model_dump(mode="json")
    if outcome.decision == "reject" and outcome.reasons:  # the rule that rejected it, as ops rejections say
        set_fields["rejection"] = outcome.reasons[0].model_dump()
    result = ReviewResult(**outcome.model_dump(), rules_version=rules.version, decided_at=clock.now())
    if defer_approval and outcome.decision == "approve":
        count(_METRIC_FOR[outcome.decision], order.platform)
        return result.model_copy(update={"recorded": False})
    repository.transition(
        order,
        _STATUS_FOR[outcome.decision],
        event_type=f"review.{outcome.decision}",
        actor="stage:review",
        execution_id=execution_id,
        detail={
            "reasons": [hit.model_dump() for hit in outcome.reasons],
            "rules_version": rules.version,
        },
        set_fields=set_fields,
    )
    if outcome.decision == "reject":
        count(MetricName.ORDERS_REJECTED, order.platform, reason="review")
    else:
        count(_METRIC_FOR[outcome.decision], order.platform)
    return result
