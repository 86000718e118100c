"""Order changes after capture (before shipment): which orders can still change, and what a change means.

Pure: orders, requests and the rule set in, refusals and review outcomes out.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field

from functions.core.errors import RefusedError
from functions.core.models.order_in import Address
from functions.core.models.orders import ChangeRecord, Order, ReviewOutcome
from functions.core.rules import ReviewRules
from functions.core.status import TERMINAL, OrderStatus
from functions.review.logic import address_complete, address_plausible, blacklisted, review

AFTER_SHIPMENT = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})
# The review rules a new address can trip (the others look at lines, amounts and the buyer).
ADDRESS_RULES = (address_complete, address_plausible, blacklisted)
REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class AddressChangeIn(BaseModel):
    """Body of POST /orders/{id}/changes/address."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    shipping_address: Address
    reason: str = Field(min_length=1, max_length=500)
    reference: str = Field(pattern=REFERENCE, description="the caller's id of this change (idempotency)")

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def refuse_change(order: Order) -> RefusedError | None:
    """Why this order cannot be changed now, or None when it can."""
    if order.status in AFTER_SHIPMENT:
        return RefusedError(
            "AFTER_SHIPMENT",
            f"order {order.order_id} is {order.status}: it has left the warehouse and can no longer be "
            "changed; open an after-sales case instead (POST /orders/{id}/aftersales)",
        )
    if order.status in TERMINAL:
        return RefusedError("ALREADY_FINAL", f"order {order.order_id} is {order.status}; nothing can change")
    if order.interception is not None and order.interception.pending:
        return RefusedError(
            "INTERCEPTED", f"order {order.order_id} is being intercepted; change it once that is applied"
        )
    return None


def earlier_change(order: Order, reference: str) -> ChangeRecord | None:
    return next((change for change in order.changes if change.reference == reference), None)


def repeated_change(order: Order, reference: str, fingerprint: str) -> ChangeRecord | None:
    """The change made before under this reference (a resend: answer it again), or None. Another change
    under a reference already used is refused: REFERENCE_REUSED."""
    earlier = earlier_change(order, reference)
    if earlier is not None and earlier.fingerprint != fingerprint:
        raise RefusedError("REFERENCE_REUSED", f"change {reference} was made before with other content")
    return earlier


def admit_change(order: Order, reference: str, fingerprint: str) -> ChangeRecord | None:
    """Whether the order takes this change: a resend gives back the change made before (answer it again,
    change nothing); otherwise an order that no longer takes changes is refused (refuse_change)."""
    earlier = repeated_change(order, reference, fingerprint)
    if earlier is not None:
        return earlier
    refused = refuse_change(order)
    if refused is not None:
        raise refused
    return None


def re_review(order: Order, address: Address, policy: ReviewRules) -> ReviewOutcome:
    """The review rules that apply to the new address, run on the order as it would be."""
    changed = order.model_copy(update={"shipping_address": address})
    return review(changed, policy, rules=ADDRESS_RULES)
