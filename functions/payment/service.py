"""Payment stage: apply decisions from logic.py with conditional writes, and tell the execution.

Three ways in, one order state:
  * the payment callback (API)            -> pay_order()
  * the AwaitPayment task of the workflow -> park_order()
  * the pay-deadline timer (schedule or sweep) -> expire_order() / sweep()

Each reads the order, decides (logic.py) and writes conditionally on the status and version it read.
Whoever writes first wins; the loser reads again and decides again, so payment against timeout at
the same instant, a schedule fired twice, or the sweep and the schedule together end in one state.

Telling the execution (SendTaskSuccess / SendTaskFailure) happens after the write. Until it is known
to be done, the order stays in the timer index (GSI5) with a due time shortly after the decision, so
a crash between the write and the call is finished by the sweep; a second call for a task that has
already moved on is answered TaskTimedOut/InvalidToken and ignored.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from functions.core import aws, clock, repository
from functions.core.errors import (
    IllegalTransitionError,
    OmsError,
    OrderNotFoundError,
    PaymentTimeoutError,
    TransientError,
)
from functions.core.interception import ensure_not_intercepted
from functions.core.models.order_in import OrderIn
from functions.core.models.orders import Order, PaymentReceived, RuleHit
from functions.core.models.stock import Reservation
from functions.core.observability import MetricName, count, logger
from functions.core.repository import ReadAgain, active_rules
from functions.core.status import TERMINAL, OrderStatus
from functions.payment import timers
from functions.payment.logic import (
    TIMEOUT_CODE,
    ParkAction,
    PaymentAction,
    TimerAction,
    amount_due,
    balance_deadline,
    decide_park,
    decide_payment,
    decide_timer,
    is_timeout_cancelled,
    pay_deadline,
    timeout_cause,
)
from functions.payment.models import (
    ParkResult,
    PaymentCallback,
    PaymentOutcome,
    SweepResult,
    TimerResult,
)

# Re-read and re-decide this many times when a conditional write loses a race, then give up (503 /
# a retried task / the next sweep).
MAX_ROUNDS = 5
# After a decision, how long the deciding call has to tell the execution before the sweep does it.
RESUME_GRACE = timedelta(minutes=2)
# The execution has already moved past the task: nothing left to tell it.
_GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class AmountMismatchError(OmsError):
    """Bad input: the callback's amount is not the order total (422, nothing written)."""


class PaymentRefusedError(OmsError):
    """The order cannot take this payment; it has been flagged for refund (409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- ingest


def deadline_for(order_in: OrderIn, received_at: datetime) -> datetime | None:
    """The pay deadline of an order arriving unpaid (per-platform timeout from the strategy center)."""
    if order_in.payment.status == "paid":
        return None
    if order_in.payment.deposit is not None:
        return balance_deadline(order_in.payment.deposit, received_at, active_rules().payment)
    return pay_deadline(received_at, order_in.platform, active_rules().payment)


def schedule_timeout(order: Order) -> None:
    """At ingest: the one-time schedule for the pay deadline. Never fails the ingest: the order is
    already in the timer index, so the sweep cancels it on time even without its schedule."""
    if order.is_paid or order.pay_deadline is None or order.status in TERMINAL:
        return
    if order.pay_deadline <= clock.now():
        return  # due already: the sweep's next run takes it
    timers.create_timeout_schedule(order)


# ---------------------------------------------------------------- the payment callback


def pay_order(order_id: str, callback: PaymentCallback, actor: str = "payment:callback") -> PaymentOutcome:
    received = PaymentReceived(**callback.model_dump(), received_at=clock.now())

    def attempt() -> PaymentOutcome:
        order = repository.get_order(order_id)
        due = amount_due(order)
        if callback.amount != due:
            owed = "the balance due after the deposit" if order.payment.deposit else "the order total"
            raise AmountMismatchError(f"amount {callback.amount} does not equal {owed} {due}")
        decision = decide_payment(order, received)
        detail = {
            "payment_id": received.payment_id,
            "amount": str(received.amount),
            "paid_at": received.paid_at.isoformat(),
        }
        try:
            if decision.action == PaymentAction.APPLY:
                paid = repository.transition(
                    order,
                    OrderStatus.PAID,
                    event_type="payment.received",
                    actor=actor,
                    detail=detail,
                    set_fields={
                        "payment_received": received.model_dump(mode="json"),
                        **_resume_pending(order_id),
                    },
                )
                if paid.payment_received is None or paid.payment_received.payment_id != received.payment_id:
                    raise ReadAgain  # another payment got there first: decide again (a refund)
                timers.delete_timeout_schedule(order_id)
                _resume(paid, repository.get_wait_token(order_id))
                return PaymentOutcome(order_id=order_id, status=paid.status, outcome="applied")
            if decision.action == PaymentAction.RECORD:
                recorded = repository.annotate(
                    order,
                    event_type="payment.received",
                    actor=actor,
                    detail=detail,
                    set_fields={"payment_received": received.model_dump(mode="json")},
                    remove_fields=("gsi5pk", "gsi5sk"),
                )
                if recorded is None:
                    raise ReadAgain  # the order changed under us: read and decide again
                timers.delete_timeout_schedule(order_id)
                return PaymentOutcome(order_id=order_id, status=recorded.status, outcome="recorded")
            if decision.action == PaymentAction.REPLAY:
                token = repository.get_wait_token(order_id)
                if token is not None and order.status == OrderStatus.PAID:
                    _resume(order, token)  # the first call may have stopped before telling the execution
                return PaymentOutcome(order_id=order_id, status=order.status, outcome="already_recorded")
            if not _flag_refund(order, received, decision.code, actor):
                raise ReadAgain
            raise PaymentRefusedError(decision.code, decision.message)
        except (TransientError, IllegalTransitionError):
            raise ReadAgain from None  # the order changed (the timeout, another payment): decide again

    return repository.retrying(
        attempt,
        rounds=MAX_ROUNDS,
        gave_up=f"order {order_id} kept changing while the payment was applied; retry",
    )


def _flag_refund(order: Order, received: PaymentReceived, code: str, actor: str) -> bool:
    """Flag the order for refunding this payment (once per payment id). False: the order changed."""
    detail = {
        "payment_id": received.payment_id,
        "amount": str(received.amount),
        "paid_at": received.paid_at.isoformat(),
        "reason": code,
    }
    try:
        flagged = repository.annotate(
            order,
            event_type="payment.refund_required",
            actor=actor,
            detail=detail,
            set_fields={"refund_required": True},
            extra_items=[repository.refund_flag_item(order.order_id, received.payment_id, detail)],
        )
    except repository.TransactionRejected:
        return True  # this payment was flagged before: a resent callback
    if flagged is None:
        return False
    logger.warning("payment refused, flagged for refund", extra={"reason": code})
    return True


# ---------------------------------------------------------------- the AwaitPayment task


def park_order(order_id: str, execution_id: str | None, token: str) -> ParkResult:
    """Park an unpaid order until paid, or settle it now if the outcome is already known."""

    def attempt() -> ParkResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        action = decide_park(order, clock.now())
        if action in (ParkAction.WAIT, ParkAction.PAY, ParkAction.CANCEL, ParkAction.REWAIT):
            ensure_not_intercepted(order, "payment")  # the safe point every stage task checks first
        try:
            if action == ParkAction.WAIT:
                deadline = order.pay_deadline or clock.now()
                repository.transition(
                    order,
                    OrderStatus.AWAITING_PAYMENT,
                    event_type="payment.awaited",
                    actor="stage:payment",
                    execution_id=execution_id,
                    detail={"deadline": deadline.isoformat()},
                    set_fields={repository.WAIT_TOKEN: token, **repository.pay_due_keys(order_id, deadline)},
                )
                return ParkResult(outcome="waiting")
            if action == ParkAction.PAY:
                paid = repository.transition(
                    order,
                    OrderStatus.PAID,
                    event_type="payment.applied",
                    actor="stage:payment",
                    execution_id=execution_id,
                    detail={"payment_id": _payment_id(order)},
                    set_fields={repository.WAIT_TOKEN: token, **_resume_pending(order_id)},
                )
                _resume(paid, token)
                return ParkResult(outcome="paid")
            if action == ParkAction.CANCEL:
                cancelled = _cancel(order, aggregate.reservations, "stage:payment", execution_id, token, None)
                count(MetricName.ORDERS_CANCELLED_ON_TIMEOUT, order.platform)
                _resume(cancelled, token)
                timers.delete_timeout_schedule(order_id)
                return ParkResult(outcome="cancelled")
            if action == ParkAction.REWAIT:
                if repository.replace_payment_token(order_id, OrderStatus.AWAITING_PAYMENT, token):
                    return ParkResult(outcome="waiting")
                raise ReadAgain  # paid or cancelled meanwhile: decide again
            if action in (ParkAction.RESUME_PAID, ParkAction.RESUME_CANCELLED):
                _send(order, token)
                return ParkResult(outcome="paid" if action == ParkAction.RESUME_PAID else "cancelled")
        except (TransientError, IllegalTransitionError):
            raise ReadAgain from None
        raise IllegalTransitionError(order_id, order.status, OrderStatus.AWAITING_PAYMENT)

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"order {order_id} kept changing while parking it for payment"
    )


# ---------------------------------------------------------------- the pay-deadline timer


def expire_order(order_id: str, actor: str) -> TimerResult:
    """A timer fired for `order_id`: cancel it if it is still unpaid and due; otherwise tidy up."""

    def attempt() -> TimerResult:
        try:
            aggregate = repository.load_aggregate(order_id)
        except OrderNotFoundError:
            return TimerResult(order_id=order_id, action="unknown")
        order = aggregate.order
        token = repository.get_wait_token(order_id)
        action = decide_timer(order, clock.now(), token is not None)
        if action == TimerAction.CANCEL:
            run = uuid.uuid4().hex
            try:
                cancelled = _cancel(order, aggregate.reservations, actor, None, None, run)
            except (TransientError, IllegalTransitionError):
                raise ReadAgain from None  # paid (or changed) meanwhile: decide again
            won = repository.get_event(order_id, order.version + 1)
            if won is None or won.detail.get("run") != run:
                # Another timer (the schedule again, the sweep) cancelled it first and tells the execution.
                return TimerResult(order_id=order_id, action="already_cancelled")
            count(MetricName.ORDERS_CANCELLED_ON_TIMEOUT, order.platform)
            _resume(cancelled, repository.get_wait_token(order_id))
            if actor != "timer:schedule":
                timers.delete_timeout_schedule(order_id)  # a schedule fires and deletes itself
            return TimerResult(order_id=order_id, action="cancelled")
        if action == TimerAction.RESUME:
            _resume(order, token)
        elif action == TimerAction.CLOSE:
            repository.close_payment_timer(order_id, status=order.status)
        return TimerResult(order_id=order_id, action=action.value)

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"order {order_id} kept changing while its timer ran"
    )


def sweep(limit: int = 500) -> SweepResult:
    """rate(1 minute): every timer that is due, whether or not its schedule fired."""
    due = repository.due_payment_timers(clock.now(), limit)
    actions: dict[str, int] = {}
    errors = 0
    for order_id in due:
        try:
            result = expire_order(order_id, "timer:sweep")
        except Exception:  # one bad order must not stop the sweep; it stays due for the next run
            logger.exception("sweep could not settle an order", extra={"order_id": order_id})
            errors += 1
            continue
        actions[result.action] = actions.get(result.action, 0) + 1
    return SweepResult(due=len(due), actions=actions, errors=errors)


# ---------------------------------------------------------------- shared steps


def _cancel(
    order: Order,
    reservations: list[Reservation],
    actor: str,
    execution_id: str | None,
    token: str | None,
    run: str | None,
) -> Order:
    """AWAITING_PAYMENT/ALLOCATED -> CANCELLED, releasing the reservations in the same transaction.

    `run` marks the history event, so a timer can tell its own cancel from a concurrent one (the
    transition returns the stored order either way).
    """
    reason = RuleHit(code=TIMEOUT_CODE, message=timeout_cause(order))
    fields: dict[str, Any] = {"cancellation": reason.model_dump(), **_resume_pending(order.order_id)}
    if token is not None:
        fields[repository.WAIT_TOKEN] = token
    deposit, extra = _deposit_on_timeout(order)
    if deposit.get("outcome") == "refund":
        fields["refund_required"] = True
    return repository.transition(
        order,
        OrderStatus.CANCELLED,
        event_type="payment.timeout",
        actor=actor,
        execution_id=execution_id,
        detail={
            "deadline": order.pay_deadline.isoformat() if order.pay_deadline else None,
            "released": [r.model_dump() for r in reservations],
            **({"run": run} if run else {}),
            **({"deposit": deposit} if deposit else {}),
        },
        set_fields=fields,
        extra_items=[*repository.release_items(order.order_id, reservations), *extra],
    )


def _deposit_on_timeout(order: Order) -> tuple[dict[str, Any], list[repository.Write]]:
    """定金: refunded or kept when the balance was not paid, as the strategy center says. A refund is
    flagged like a refused payment (one REFUND# item per payment id, in the cancelling transaction)."""
    deposit = order.payment.deposit
    if deposit is None:
        return {}, []
    outcome = active_rules().payment.deposit_on_balance_timeout
    detail = {"payment_id": deposit.payment_id, "amount": str(deposit.amount), "outcome": outcome}
    if outcome != "refund":
        return detail, []
    flag = {"amount": str(deposit.amount), "paid_at": deposit.paid_at.isoformat(), "reason": "BALANCE_UNPAID"}
    return detail, [repository.refund_flag_item(order.order_id, deposit.payment_id, flag)]


def _resume_pending(order_id: str) -> dict[str, str]:
    """Keep the order in the timer index, due shortly: if the execution is not told by then, the
    sweep tells it."""
    return repository.pay_due_keys(order_id, clock.now() + RESUME_GRACE)


def _resume(order: Order, token: str | None) -> None:
    """Tell the waiting execution how its order ended, then take the order out of the timer index."""
    if token is not None:
        _send(order, token)
        repository.close_payment_timer(order.order_id, token=token)
    else:
        repository.close_payment_timer(order.order_id, status=order.status)


def _send(order: Order, token: str) -> None:
    client = aws.stepfunctions()
    try:
        if is_timeout_cancelled(order):
            client.send_task_failure(
                taskToken=token, error=PaymentTimeoutError.__name__, cause=timeout_cause(order)
            )
        elif order.status in {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED}:
            client.send_task_success(
                taskToken=token, output=json.dumps({"payment": "paid", "payment_id": _payment_id(order)})
            )
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in _GONE:
            raise
        logger.info("the execution had already moved on", extra={"order_id": order.order_id})


def _payment_id(order: Order) -> str | None:
    if order.payment_received is not None:
        return order.payment_received.payment_id
    return order.payment.payment_id
