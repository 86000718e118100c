"""Settling the refunds line changes owe: the payment provider (or the order's platform) confirms a
change's refund (`CHGREFUND#<reference>`, recorded `requested` by the change); the refund item moves
requested -> refunded with the provider's reference, in one transaction with the order's history event
`order.change_refund_settled`. Idempotent: a repeated confirmation answers applied=false.

After-sales settles its case refunds on its own path (`POST /refunds/{refund_id}/callback` moves the
case); this is the same contract (body, amount check, idempotency) for refunds without a case. The
sales figures counted the refund when the change was made (functions/reports): settling moves no figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.aftersales.models import RefundCallback
from functions.core import clock, repository
from functions.core.errors import RefusedError
from functions.core.models.orders import ChangeRefund
from functions.core.observability import bind_platform, logger
from functions.core.repository import ReadAgain, TransactionRejected
from functions.core.repository.change_refunds import change_refund_settle_item, get_change_refund

ATTEMPTS = 5
SETTLED_EVENT = "order.change_refund_settled"


@dataclass(frozen=True)
class SettleOutcome:
    refund: ChangeRefund
    applied: bool  # False: confirmed before (a repeated callback)


def settle_change_refund(order_id: str, reference: str, body: RefundCallback, actor: str) -> SettleOutcome:
    def attempt() -> SettleOutcome:
        refund = get_change_refund(order_id, reference)
        if refund is None:
            raise RefusedError("NOT_FOUND", f"order {order_id} owes no refund for change {reference}", 404)
        if body.amount != refund.amount:
            raise RefusedError(
                "AMOUNT_MISMATCH",
                f"the refund of change {reference} is {refund.amount}, not {body.amount}",
                422,
                fields=[{"field": "body.amount", "message": "not the amount owed"}],
            )
        if refund.status == "refunded":
            return SettleOutcome(refund, applied=False)
        order = repository.get_order(order_id)
        bind_platform(order.platform)
        now = clock.now()
        provider_reference = body.provider_reference or ""
        settle = change_refund_settle_item(
            order_id,
            reference,
            {"settled_at": now.isoformat(), "settled_by": actor, "provider_reference": provider_reference},
        )
        try:
            updated = repository.annotate(
                order,
                event_type=SETTLED_EVENT,
                actor=actor,
                set_fields={},
                detail={
                    "reference": reference,
                    "amount": str(refund.amount),
                    "currency": refund.currency,
                    "provider_reference": provider_reference,
                },
                extra_items=[settle],
            )
        except TransactionRejected:
            raise ReadAgain from None  # confirmed concurrently: read again, answer "already applied"
        if updated is None:
            raise ReadAgain  # the order moved on: settle against it as it is now
        settled = refund.model_copy(
            update={
                "status": "refunded",
                "settled_at": now,
                "settled_by": actor,
                "provider_reference": provider_reference,
            }
        )
        logger.info("change refund confirmed", extra={"reference": reference})
        return SettleOutcome(settled, applied=True)

    return repository.retrying(
        attempt, rounds=ATTEMPTS, gave_up=f"order {order_id} kept changing while its refund settled; retry"
    )
