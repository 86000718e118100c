"""Holds: the execution waits for a person (task token), the person decides, the execution resumes.

    Review --hold--> AwaitReview (HoldFunction stores $$.Task.Token on the order, the execution waits)
    POST /orders/{id}/review  -> transition ON_HOLD -> APPROVED / ALLOCATED / REJECTED (conditional)
                              -> SendTaskSuccess(token, {"decision", "resume"}) -> ReviewResumed Choice

The decision is committed first (a conditional transition: of two reviewers racing, one wins, the other
is told the order is no longer on hold), then the execution is resumed. A crash in between is healed by
sending the same request again: the decision is already applied, so only the resume is repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.core import clock, repository, workflow
from functions.core.errors import IllegalTransitionError, OrderNotFoundError, RefusedError, TransientError
from functions.core.interception import ensure_not_intercepted
from functions.core.models.orders import ManualReview, Order
from functions.core.observability import MetricName, bind_platform, count, emit, logger
from functions.core.repository import ReadAgain
from functions.core.status import OrderStatus
from functions.holds import escalation
from functions.holds.logic import (
    BulkDecisionIn,
    BulkDecisionResult,
    HoldEntry,
    ManualDecision,
    already_decided,
    callback_output,
    is_overdue,
    is_past_sla,
    queue,
    refuse_review,
    rejection_for,
    status_after,
)

ATTEMPTS = 5  # re-reads when a concurrent change (an interception, an escalation) moved the version on


# ---------------------------------------------------------------- the waiting task (HoldFunction)


def await_review(order_id: str, execution_id: str | None, token: str) -> Order:
    """Store the task token the execution now waits on; the review endpoint resumes it with that token.

    Conditional on the order as read (ON_HOLD, same version): an interception requested meanwhile makes
    the write fail, the re-read sees it, and the task raises OrderInterceptedError instead of waiting.
    """
    for _ in range(ATTEMPTS):
        order = repository.get_order(order_id)
        bind_platform(order.platform)
        ensure_not_intercepted(order, "hold")
        if order.status != OrderStatus.ON_HOLD:
            raise IllegalTransitionError(order_id, order.status, OrderStatus.ON_HOLD)
        if repository.set_wait_token(order, token):
            break
    else:
        raise TransientError(f"order {order_id} kept changing while its hold began")
    if order.hold is not None and order.hold.escalate_at is not None:
        escalation.schedule_escalation(order_id, order.hold.escalate_at)
    return order


# ---------------------------------------------------------------- a person decides


@dataclass(frozen=True)
class DecisionResult:
    order: Order
    resumed: bool  # the waiting execution took the decision (False: it no longer waited on this order)
    repeated: bool  # this very decision had already been applied


def decide(
    order_id: str,
    decision: ManualDecision,
    comment: str,
    actor: str,
    *,
    seen_version: int | None = None,
    via: str | None = None,
) -> DecisionResult:
    """`seen_version`: the version the person decided on (a newer order is refused STALE_ORDER, 409);
    `via`: the bulk request that carried the decision (recorded in the history)."""
    aggregate = repository.load_aggregate(order_id)
    order = aggregate.order
    if already_decided(order, decision):
        return DecisionResult(order, resumed=_resume(order), repeated=True)
    refusal = refuse_review(order)
    if refusal is not None:
        raise refusal
    if seen_version is not None and order.version != seen_version:
        raise RefusedError(
            "STALE_ORDER", f"order {order_id} changed since version {seen_version} (now {order.version})"
        )
    token = repository.get_wait_token(order_id)
    if token is None:
        # Review decided to hold, but the execution has not reached its waiting task yet.
        raise TransientError(f"order {order_id} is not waiting for a decision yet")

    review = ManualReview(decision=decision, comment=comment, actor=actor, at=clock.now())
    set_fields: dict[str, object] = {"manual_review": review.model_dump(mode="json")}
    extra: list[repository.Write] = []
    if decision == "reject":
        set_fields["rejection"] = rejection_for(comment).model_dump()
        extra = repository.release_items(order_id, aggregate.reservations)
    updated = repository.transition(
        order,
        status_after(decision, order.hold),
        event_type=f"review.manual_{decision}",
        actor=actor,
        detail={
            "comment": comment,
            "held_for": [r.code for r in (order.hold.reasons if order.hold else [])],
            "released": len(aggregate.reservations) if extra else 0,
            **({"via": via} if via else {}),
        },
        set_fields=set_fields,
        extra_items=extra,
    )
    if decision == "reject":
        count(MetricName.ORDERS_REJECTED, order.platform, reason="manual")
    else:
        count(MetricName.ORDERS_APPROVED_MANUALLY, order.platform)
    return DecisionResult(updated, resumed=_resume(updated), repeated=False)


def _resume(order: Order) -> bool:
    """Hand the recorded decision to the waiting execution (again, if a first attempt was lost)."""
    token = repository.get_wait_token(order.order_id)
    if token is None or order.manual_review is None:
        return False
    resumed = workflow.send_task_success(token, callback_output(order.manual_review.decision, order.hold))
    repository.clear_wait_token(order.order_id, token)
    if not resumed:
        logger.warning("no execution waited on the order's token", extra={"order_id": order.order_id})
    return resumed


def decide_many(request: BulkDecisionIn, actor: str, via: str) -> list[BulkDecisionResult]:
    """One decision for many held orders, each on its own (one order's refusal never stops the others);
    every order asked gets its result, stale and refused ones included."""
    results: list[BulkDecisionResult] = []
    for ref in request.orders:
        try:
            decided = decide(
                ref.order_id, request.decision, request.comment, actor, seen_version=ref.version, via=via
            )
        except OrderNotFoundError:
            results.append(BulkDecisionResult(order_id=ref.order_id, outcome="not_found", code="NOT_FOUND"))
            continue
        except RefusedError as err:
            stale = err.code in ("STALE_ORDER", "NOT_ON_HOLD")
            current = repository.find_order(ref.order_id)
            results.append(
                BulkDecisionResult(
                    order_id=ref.order_id,
                    outcome="stale" if stale else "refused",
                    status=current.status if current else None,
                    code=err.code,
                    message=err.message,
                )
            )
            continue
        except (TransientError, IllegalTransitionError) as err:
            results.append(
                BulkDecisionResult(order_id=ref.order_id, outcome="retry", code="RETRY", message=str(err))
            )
            continue
        results.append(
            BulkDecisionResult(
                order_id=ref.order_id,
                outcome="repeated" if decided.repeated else "applied",
                status=decided.order.status,
                execution_resumed=decided.resumed,
            )
        )
    logger.info("bulk review", extra={"orders": len(results), "decision": request.decision, "via": via})
    return results


# ---------------------------------------------------------------- the queue


def held_orders(reason: str | None, limit: int) -> list[HoldEntry]:
    """ON_HOLD orders, oldest first, filtered by reason code (reads at most 1,000 from the status index)."""
    scan = 1000 if reason else limit
    return queue(
        repository.list_orders_by_status(OrderStatus.ON_HOLD, scan, oldest_first=True), reason, limit
    )


# ---------------------------------------------------------------- escalation (see escalation.py)


def escalate_hold(order_id: str, now: datetime | None = None) -> bool:
    """Mark the order's hold escalated if it is overdue; True when this call escalated it.

    What the escalation timer calls. Idempotent and safe to fire late or twice: an order decided,
    re-held (a new hold has its own deadline) or already escalated is left alone.
    """

    def attempt() -> bool:
        order = repository.get_order(order_id)
        moment = now or clock.now()
        if order.status != OrderStatus.ON_HOLD or order.hold is None or not is_overdue(order.hold, moment):
            return False
        hold = order.hold.model_copy(update={"escalated_at": moment})
        updated = repository.annotate(
            order,
            event_type="hold.escalated",
            actor="timer:hold-escalation",
            set_fields={"hold": hold.model_dump(mode="json")},
            detail={"held_since": order.hold.since.isoformat(), "reasons": [r.code for r in hold.reasons]},
        )
        if updated is not None:
            logger.info("hold escalated", extra={"order_id": order_id})
            return True
        raise ReadAgain

    return repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while escalating its hold"
    )


def escalate_overdue_holds(limit: int = 1000) -> list[str]:
    """Escalate every overdue hold (what a sweep calls); the ids escalated by this call."""
    now = clock.now()
    held = repository.list_orders_by_status(OrderStatus.ON_HOLD, limit, oldest_first=True)
    overdue = [o.order_id for o in held if is_overdue(o.hold, now)]
    # The backlog gauge the HeldOrdersOverSla alarm watches: every hold past its deadline, escalated or
    # not, published on every check (also 0, so the alarm sees the backlog clear).
    emit(MetricName.HELD_ORDERS_OVER_SLA, sum(1 for o in held if is_past_sla(o.hold, now)))
    return [order_id for order_id in overdue if escalate_hold(order_id, now)]
