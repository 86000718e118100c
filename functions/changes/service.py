"""Order changes before shipment: one conditional write on the order (status and version as read), its
history saying who and why, idempotent by the caller's reference.

A change that trips a review rule (a new address on the blacklist) does not start anything new: it asks
for an interception with action hold (functions/core/application.py), the same signal ops use, so the
order's one running execution stops at its next safe point (at once when it waits on a token) and parks
ON_HOLD in the review queue, where a person approves (it resumes) or rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.changes.logic import AddressChangeIn, admit_change, re_review
from functions.core import application, clock, repository
from functions.core.models.orders import ChangeRecord, Order, ReviewOutcome
from functions.core.observability import bind_platform, logger
from functions.core.repository import ReadAgain, active_rules
from functions.core.status import OrderStatus
from functions.intercept.logic import InterceptIn

ATTEMPTS = 5
ACTOR = "stage:changes"


@dataclass(frozen=True)
class ChangeResult:
    order: Order
    repeated: bool  # the same change (same reference and content) was already applied
    review: ReviewOutcome | None  # what the address rules said of the new address
    held: bool  # the change tripped a rule: the order was sent to the review queue


def change_address(order_id: str, request: AddressChangeIn, actor: str) -> ChangeResult:
    fingerprint = request.fingerprint()

    def attempt() -> ChangeResult:
        order = repository.get_order(order_id)
        bind_platform(order.platform)
        earlier = admit_change(order, request.reference, fingerprint)
        if earlier is not None:
            return ChangeResult(order, repeated=True, review=None, held=False)
        outcome = re_review(order, request.shipping_address, active_rules().review)
        record = ChangeRecord(
            reference=request.reference, kind="address", fingerprint=fingerprint, actor=actor, at=clock.now()
        )
        updated = repository.annotate(
            order,
            event_type="order.address_changed",
            actor=actor,
            set_fields={
                "shipping_address": request.shipping_address.model_dump(mode="json"),
                "changes": [c.model_dump(mode="json") for c in (*order.changes, record)],
            },
            # No address in the history (personal data): who, why, and what the rules said.
            detail={
                "reason": request.reason,
                "reference": request.reference,
                "review": [hit.code for hit in outcome.reasons],
            },
        )
        if updated is None:
            raise ReadAgain
        return ChangeResult(updated, repeated=False, review=outcome, held=False)

    result = repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while its address changed; retry"
    )
    outcome = result.review
    if outcome is None or outcome.decision == "approve" or result.order.status == OrderStatus.ON_HOLD:
        return result
    codes = ", ".join(hit.code for hit in outcome.reasons)
    hold = InterceptIn(reason=f"address change {request.reference} tripped review: {codes}", action="hold")
    intercepted = application.request_interception(order_id, hold, ACTOR)
    logger.info("address change sent the order to review", extra={"reasons": codes})
    return ChangeResult(intercepted.order, repeated=False, review=outcome, held=True)
