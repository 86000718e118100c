"""Exception interception: ops flag an order, and its execution stops at the next safe point.

    POST /orders/{id}/intercept --> the order is flagged (conditional write that moves its version on)
                                --> if its execution waits on a task token (a hold), SendTaskFailure
                                    (error OrderInterceptedError) stops the wait at once
    the next stage task reads the flag and raises OrderInterceptedError (functions/core/interception.py)
    each task's Catch --> "Intercepted" (InterceptFunction: apply_interception) --> cancel or hold

Cancel releases every reservation and ends the order CANCELLED; hold keeps the stock and parks the order
ON_HOLD in the review queue (reason INTERCEPTED), where approving resumes it and rejecting releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from functions.core import clock, repository, workflow
from functions.core.errors import OmsError, OrderNotFoundError, RefusedError, TransientError
from functions.core.models.orders import Interception, Order
from functions.core.observability import MetricName, bind_platform, count, logger
from functions.core.repository import ReadAgain, active_rules
from functions.intercept.logic import (
    STAGE_BY_STATUS,
    BulkInterceptIn,
    BulkInterceptResult,
    InterceptIn,
    InterceptionResult,
    is_resend,
    outcome_of,
    plan,
    refusal,
)

ATTEMPTS = 5
INTERCEPTED_ERROR = "OrderInterceptedError"  # the class name in functions/core/errors.py


class NothingToInterceptError(OmsError):
    """The Intercepted state ran for an order nobody intercepted (a wiring error, not a business case)."""


# ---------------------------------------------------------------- ops request it (API)


@dataclass(frozen=True)
class InterceptRequestResult:
    order: Order
    created: bool  # False: the same interception was already requested (a resent request)
    wait_stopped: bool  # the execution was waiting on a token and has been told to stop


def request_interception(order_id: str, request: InterceptIn, actor: str) -> InterceptRequestResult:
    def attempt() -> InterceptRequestResult:
        order = repository.get_order(order_id)
        refused = refusal(order)
        if refused is not None:
            raise refused
        pending = order.interception if order.interception and order.interception.pending else None
        if pending is not None:
            if is_resend(pending, request):
                return InterceptRequestResult(order, created=False, wait_stopped=_stop_waiting(order_id))
            raise_already(order, pending)
        interception = Interception(
            reason=request.reason, action=request.action, actor=actor, requested_at=clock.now()
        )
        updated = repository.annotate(
            order,
            event_type="order.intercept_requested",
            actor=actor,
            set_fields={"interception": interception.model_dump(mode="json")},
            detail={"reason": request.reason, "action": request.action},
        )
        if updated is not None:
            return InterceptRequestResult(updated, created=True, wait_stopped=_stop_waiting(order_id))
        raise ReadAgain

    return repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while being intercepted; retry"
    )


def request_interceptions(request: BulkInterceptIn, actor: str) -> list[BulkInterceptResult]:
    """The same interception for many orders, each on its own; every order gets its result."""
    one = InterceptIn(reason=request.reason, action=request.action)
    results: list[BulkInterceptResult] = []
    for order_id in request.order_ids:
        try:
            done = request_interception(order_id, one, actor)
        except OrderNotFoundError:
            results.append(BulkInterceptResult(order_id=order_id, outcome="not_found", code="NOT_FOUND"))
        except RefusedError as err:
            current = repository.find_order(order_id)
            results.append(
                BulkInterceptResult(
                    order_id=order_id,
                    outcome="refused",
                    status=current.status if current else None,
                    code=err.code,
                    message=err.message,
                )
            )
        except TransientError as err:
            results.append(
                BulkInterceptResult(order_id=order_id, outcome="retry", code="RETRY", message=str(err))
            )
        else:
            results.append(
                BulkInterceptResult(
                    order_id=order_id,
                    outcome="requested" if done.created else "repeated",
                    status=done.order.status,
                    wait_stopped=done.wait_stopped,
                )
            )
    logger.info("bulk interception", extra={"orders": len(results), "action": request.action})
    return results


def raise_already(order: Order, pending: Interception) -> NoReturn:
    raise RefusedError(
        "ALREADY_INTERCEPTED",
        f"order {order.order_id} is already being intercepted ({pending.action}, by {pending.actor})",
    )


def _stop_waiting(order_id: str) -> bool:
    """An execution parked on a task token would not reach a stage task soon: fail its wait now."""
    token = repository.get_wait_token(order_id)
    if token is None:
        return False
    stopped = workflow.send_task_failure(token, INTERCEPTED_ERROR, f"order {order_id} was intercepted")
    repository.clear_wait_token(order_id, token)
    return stopped


# ---------------------------------------------------------------- the execution applies it (Intercepted)


def apply_interception(order_id: str, execution_id: str | None) -> InterceptionResult:
    """Cancel (release stock) or hold (keep stock, wait for a person), and record who asked and why."""

    def attempt() -> InterceptionResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        bind_platform(order.platform)
        requested = order.interception
        if requested is None:
            raise NothingToInterceptError(f"order {order_id} has no interception to apply")
        if not requested.pending:  # a retried task: already applied
            return InterceptionResult(
                outcome=outcome_of(requested), status=order.status, released=requested.released
            )
        now = clock.now()
        escalate_at = now + timedelta(minutes=active_rules().review.hold_escalation_minutes)
        decided = plan(order, requested, now, escalate_at)
        reservations = aggregate.reservations if decided.release_stock else []
        applied = requested.model_copy(
            update={
                "state": "applied",
                "stage": STAGE_BY_STATUS.get(order.status),
                "applied_at": now,
                "released": len(reservations),
            }
        )
        set_fields: dict[str, object] = {
            "interception": applied.model_dump(mode="json"),
            repository.WAIT_TOKEN: None,  # whatever the execution waited on is over
        }
        if decided.hold is not None:
            set_fields["hold"] = decided.hold.model_dump(mode="json")
        detail = {
            "requested_by": requested.actor,
            "reason": requested.reason,
            "action": requested.action,
            "stage": applied.stage,
            "released": len(reservations),
        }
        if decided.target == order.status:  # already ON_HOLD: stays there, with the interception added
            if (
                repository.annotate(
                    order,
                    event_type="order.intercepted",
                    actor="stage:intercept",
                    execution_id=execution_id,
                    set_fields=set_fields,
                    detail=detail,
                )
                is None
            ):
                raise ReadAgain
        else:
            repository.transition(
                order,
                decided.target,
                event_type="order.intercepted",
                actor="stage:intercept",
                execution_id=execution_id,
                detail=detail,
                set_fields=set_fields,
                extra_items=[
                    *repository.release_items(order_id, reservations),
                    *repository.waitlist_leave_items(order),
                ],
            )
        logger.info("interception applied", extra={"action": requested.action, "stage": applied.stage})
        count(MetricName.ORDERS_INTERCEPTED, order.platform, action=requested.action)
        return InterceptionResult(
            outcome=outcome_of(requested), status=decided.target, released=len(reservations)
        )

    return repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while its interception was applied"
    )
