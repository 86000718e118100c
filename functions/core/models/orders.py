"""The order as the OMS keeps it: the platform's content plus what each stage decided, and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from functions.core.models.base import Money, PaymentId, Record, StrictModel
from functions.core.models.order_in import OrderIn
from functions.core.status import OrderStatus


class PaymentReceived(StrictModel):
    """A payment the OMS accepted for an order (from the payment callback)."""

    payment_id: PaymentId
    amount: Money
    paid_at: AwareDatetime
    received_at: datetime


class RuleHit(StrictModel):
    code: str
    message: str


class ReviewOutcome(StrictModel):
    decision: Literal["approve", "hold", "reject"]
    reasons: list[RuleHit] = []


class ShortLine(Record):
    """A line sourcing could not serve: how much was asked, how much could be found."""

    model_config = ConfigDict(frozen=True)

    sku: str
    requested: int
    available: int


class AllocationInfo(Record):
    """The allocate stage's record on the order: where the stock comes from, or why it does not."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["allocated", "backordered", "rejected"]
    reason: RuleHit | None = None
    warehouses: list[str] = []
    split: bool = False  # served from more than one warehouse (several shipments)
    short: list[ShortLine] = []
    backordered_since: datetime | None = None
    attempts: int = 0
    waitlisted: list[str] = []  # SKUs whose restock wakes this order
    rules_version: int = 0


class MergeInfo(Record):
    """合单: orders of one buyer to one address that ship together. `group` is the first order's id."""

    model_config = ConfigDict(frozen=True)

    group: str
    role: Literal["leader", "member"]
    orders: list[str]
    closes_at: datetime


class Failure(StrictModel):
    stage: str
    error: str
    cause: str


class Hold(StrictModel):
    """Why an order waits for a person, and until when it may wait before it is escalated."""

    source: Literal["review", "interception"]
    reasons: list[RuleHit]
    since: datetime
    resume: Literal["allocate", "ship"] = "allocate"  # where an approved order continues
    escalate_at: datetime | None = None
    escalated_at: datetime | None = None


class ManualReview(StrictModel):
    """A person's decision on a held order (POST /orders/{id}/review)."""

    decision: Literal["approve", "reject"]
    comment: str
    actor: str
    at: datetime


class ChangedLine(StrictModel):
    """One line of a line change: its quantity and value (what the line amounts to) before and after."""

    sku: str
    before: int
    after: int
    amount_before: Money
    amount_after: Money


class ChangeRecord(StrictModel):
    """A change made to an order after capture (functions/changes): kept by the caller's reference, so a
    resent change is recognised; `fingerprint` tells a resend from another change under the same one."""

    reference: str
    kind: Literal["address", "lines", "cancel", "split"]
    fingerprint: str
    actor: str
    at: datetime
    # lines/cancel on a paid order: what went back to the buyer (after-sales counts it as refunded)
    refund: Money | None = None
    # lines: each line's quantity and value before and after, and the order total before and after
    # (the sales figures fold the difference; functions/reports/logic.py)
    lines: list[ChangedLine] = []
    total_before: Money | None = None
    total_after: Money | None = None


class ChangeRefund(Record):
    """A refund a line change owes the buyer (ORDER#<id> / CHGREFUND#<reference>): asked of the payment
    provider when the change is made, refunded once the provider confirms it (functions/changes)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    reference: str
    amount: Money
    currency: str
    status: Literal["requested", "refunded"]
    requested_at: datetime
    requested_by: str
    settled_at: datetime | None = None
    settled_by: str | None = None
    provider_reference: str | None = None


class Interception(StrictModel):
    """Ops stopped the order before it shipped (POST /orders/{id}/intercept): who, why, what became of it."""

    reason: str
    action: Literal["cancel", "hold"]
    actor: str
    requested_at: datetime
    state: Literal["requested", "applied"] = "requested"
    stage: str | None = None  # the step the execution stopped at
    applied_at: datetime | None = None
    released: int = 0  # reservations given back to stock

    @property
    def pending(self) -> bool:
        return self.state == "requested"


class DeliverySummary(Record):
    """Where each shipment of the order is (virtual ones count as delivered at creation), at a glance.

    state: "pending" (nothing delivered yet), "partial" (some shipments delivered), "delivered" (all).
    """

    model_config = ConfigDict(frozen=True)

    shipments: dict[str, str] = {}  # shipment id -> tracking status (created, picked, ..., delivered)
    delivered: int = 0
    total: int = 0
    state: Literal["pending", "partial", "delivered"] = "pending"
    delivered_at: datetime | None = None


class ReplacementOf(StrictModel):
    """A replacement order (reship of damaged or lost goods, an exchange) points at the order it serves."""

    order_id: str
    cause: Literal["reship", "exchange"]
    cause_id: str  # the logistics exception or after-sales case that asked for it


class RefundSummary(StrictModel):
    """What after-sales refunded of an order so far (functions/aftersales): the order keeps its
    fulfilment status; money that went back is summed here (docs/aftersales.md)."""

    refunded: Money
    currency: str
    refunds: int = 0  # refunds issued (one per after-sales case at most)
    last_refund_at: datetime | None = None
    full: bool = False  # everything paid has been refunded


class Order(OrderIn):
    """An order as stored: the platform's content plus what the OMS decided about it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: str
    status: OrderStatus
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    request_hash: str
    execution_arn: str | None = None
    review: ReviewOutcome | None = None
    failure: Failure | None = None
    rejection: RuleHit | None = None
    shipment_ids: list[str] = []
    rules_version: int | None = None  # the strategy-center version review decided under
    hold: Hold | None = None
    manual_review: ManualReview | None = None
    interception: Interception | None = None
    allocation: AllocationInfo | None = None  # what sourcing decided, and why (see functions/allocate)
    merge: MergeInfo | None = None  # 合单: the orders this one ships together with
    # Payment and timeouts (functions/payment): set only for orders that arrived unpaid.
    # (the execution's task token is stored beside the order, never on this model: it must not leak)
    pay_deadline: datetime | None = None
    payment_received: PaymentReceived | None = None
    refund_required: bool = False
    cancellation: RuleHit | None = None
    delivery: DeliverySummary | None = None  # shipping (functions/ship/tracking.py): per-shipment status
    # Set on orders the OMS created itself to replace goods of another order (functions/core/replacement).
    replaces: ReplacementOf | None = None
    # After-sales refunds of this order, summed (functions/aftersales); None until the first refund.
    refund_summary: RefundSummary | None = None
    # Changes made after capture (functions/changes), oldest first.
    changes: list[ChangeRecord] = []
    # How the order arrived: POSTed to /orders, or captured by a channel connector (only those orders'
    # fulfilment updates go back to the platform: the ship-back rule matches on it).
    channel: Literal["api", "connector"] = "api"

    @property
    def is_paid(self) -> bool:
        """Paid on arrival, or a payment was accepted since."""
        return self.payment.status == "paid" or self.payment_received is not None


class HistoryEvent(Record):
    """One entry of an order's timeline, appended in the same transaction as the change it records."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    type: str
    from_status: OrderStatus | None = None
    to_status: OrderStatus
    actor: str
    execution_id: str | None = None
    detail: dict[str, Any] = {}
