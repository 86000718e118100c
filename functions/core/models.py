"""The order as platforms send it and as the OMS keeps it (pydantic v2, validated at every boundary)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from functions.core.status import OrderStatus

# Quantized on the way in, so "10", "10.0" and "10.00" are the same amount everywhere after.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    AfterValidator(lambda amount: amount.quantize(Decimal("0.01"))),
    # What the OpenAPI document tells integrators (and fuzzers): a decimal string, or a whole number.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["168.00"]},
                {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
            ]
        },
        mode="validation",
    ),
]
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
PlatformName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
PlatformOrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Address(_Strict):
    name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")]
    line1: Text
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Text
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Buyer(_Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")] | None = None


class OrderLine(_Strict):
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=10_000)  # "5" and true are refused, not coerced
    unit_price: Money
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    # Gift cards, services, digital goods: no warehouse, no stock; fulfilled by a virtual shipment.
    virtual: bool = False

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class Amounts(_Strict):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    subtotal: Money
    shipping: Money = Decimal("0.00")
    discount: Money = Decimal("0.00")
    tax: Money = Decimal("0.00")
    total: Money


PaymentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]


class PaymentIn(_Strict):
    """How the order arrives: paid (the default, so existing platform bodies keep working) or unpaid.

    An unpaid order reserves stock and then waits for `POST /orders/{id}/payment` until its pay
    deadline (docs/payment-and-timeouts.md); a paid one goes straight on to shipping.
    """

    status: Literal["paid", "unpaid"] = "paid"
    payment_id: PaymentId | None = None
    paid_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _unpaid_has_no_payment(self) -> PaymentIn:
        if self.status == "unpaid" and (self.payment_id is not None or self.paid_at is not None):
            raise ValueError("an unpaid order carries no payment_id or paid_at")
        return self


class PaymentReceived(_Strict):
    """A payment the OMS accepted for an order (from the payment callback)."""

    payment_id: PaymentId
    amount: Money
    paid_at: AwareDatetime
    received_at: datetime


class PlatformFlags(_Strict):
    """What the platform itself says about the order, beyond its content (review reads these)."""

    presale: bool = False  # 预售: sold before stock exists
    ships_after: AwareDatetime | None = None  # presale: earliest date the platform promised to ship
    risk_flagged: bool = False  # the platform's own risk control marked the order


class OrderIn(_Strict):
    """The body a platform POSTs to /orders."""

    platform: PlatformName
    platform_order_id: PlatformOrderId
    buyer: Buyer
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1, max_length=100)
    amounts: Amounts
    placed_at: AwareDatetime
    remark: Annotated[str, StringConstraints(max_length=500)] | None = None
    payment: PaymentIn = PaymentIn()
    flags: PlatformFlags | None = None

    @field_validator("lines")
    @classmethod
    def _unique_skus(cls, lines: list[OrderLine]) -> list[OrderLine]:
        skus = [line.sku for line in lines]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku may appear once; merge quantities into one line")
        return lines

    def fingerprint(self) -> str:
        """Stable hash of the content: the same key with a different body is a conflict, not a resend.

        Amounts are already quantized and the time is taken in UTC, so equal values written
        differently hash the same.
        """
        canonical = self.model_copy(update={"placed_at": self.placed_at.astimezone(UTC)})
        # A body without a payment section hashes as it did before the section existed.
        exclude = {"payment"} if self.payment == PaymentIn() else None
        return hashlib.sha256(canonical.model_dump_json(exclude=exclude).encode()).hexdigest()


# OMS order ids: `ord-` for orders platforms sent, `rpl-` for replacements the OMS created (reship, exchange).
ORDER_ID_PATTERN = r"^(ord|rpl)-[0-9a-f]{24}$"


def order_id_for(platform: str, platform_order_id: str) -> str:
    """Deterministic id, so concurrent duplicates of one platform order collide on the same item.

    Also a valid Step Functions execution name (<= 80 chars of [A-Za-z0-9-]).
    """
    digest = hashlib.sha256(f"{platform}\x1f{platform_order_id}".encode()).hexdigest()
    return f"ord-{digest[:24]}"


class RuleHit(_Strict):
    code: str
    message: str


class ReviewOutcome(_Strict):
    decision: Literal["approve", "hold", "reject"]
    reasons: list[RuleHit] = []


class ShortLine(BaseModel):
    """A line sourcing could not serve: how much was asked, how much could be found."""

    model_config = ConfigDict(frozen=True)

    sku: str
    requested: int
    available: int


class AllocationInfo(BaseModel):
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


class MergeInfo(BaseModel):
    """合单: orders of one buyer to one address that ship together. `group` is the first order's id."""

    model_config = ConfigDict(frozen=True)

    group: str
    role: Literal["leader", "member"]
    orders: list[str]
    closes_at: datetime


class Failure(_Strict):
    stage: str
    error: str
    cause: str


class Hold(_Strict):
    """Why an order waits for a person, and until when it may wait before it is escalated."""

    source: Literal["review", "interception"]
    reasons: list[RuleHit]
    since: datetime
    resume: Literal["allocate", "ship"] = "allocate"  # where an approved order continues
    escalate_at: datetime | None = None
    escalated_at: datetime | None = None


class ManualReview(_Strict):
    """A person's decision on a held order (POST /orders/{id}/review)."""

    decision: Literal["approve", "reject"]
    comment: str
    actor: str
    at: datetime


class ChangeRecord(_Strict):
    """A change made to an order after capture (functions/changes): kept by the caller's reference, so a
    resent change is recognised; `fingerprint` tells a resend from another change under the same one."""

    reference: str
    kind: Literal["address"]
    fingerprint: str
    actor: str
    at: datetime


class Interception(_Strict):
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


class DeliverySummary(BaseModel):
    """Where each shipment of the order is (virtual ones count as delivered at creation), at a glance.

    state: "pending" (nothing delivered yet), "partial" (some shipments delivered), "delivered" (all).
    """

    model_config = ConfigDict(frozen=True)

    shipments: dict[str, str] = {}  # shipment id -> tracking status (created, picked, ..., delivered)
    delivered: int = 0
    total: int = 0
    state: Literal["pending", "partial", "delivered"] = "pending"
    delivered_at: datetime | None = None


class ReplacementOf(_Strict):
    """A replacement order (reship of damaged or lost goods, an exchange) points at the order it serves."""

    order_id: str
    cause: Literal["reship", "exchange"]
    cause_id: str  # the logistics exception or after-sales case that asked for it


class RefundSummary(_Strict):
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


class HistoryEvent(BaseModel):
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


class StockLevel(BaseModel):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    shards: int = 1  # counter items the stock is spread over (hot SKUs)


class StockShard(BaseModel):
    """One stock counter item of a (SKU, warehouse). Shard 0 also carries the layout (`shards`, `active`)."""

    sku: str
    warehouse: str
    shard: int = 0
    on_hand: int
    reserved: int
    available: int
    shards: int = 1  # counter items that exist (shard 0 only)
    active: int = 1  # how many of them new reservations use (shard 0 only)


class StockMovement(BaseModel):
    """One ledger entry: a change of one stock counter item, appended in the transaction that made it."""

    sku: str
    warehouse: str
    shard: int = 0
    # returned: a buyer's return put back into stock; writeoff: units that never come back to stock (a
    # damaged or lost parcel, a return found damaged): no counter moves, the entry says why they are gone
    kind: Literal["initial", "restock", "adjust", "reserve", "release", "ship", "returned", "writeoff"]
    ref: str  # the order id, the stock sync id, or what wrote units off (exception or case id)
    on_hand_delta: int = 0
    reserved_delta: int = 0
    at: datetime
    # writeoff: units that left with a shipment and never come back (damaged, lost); counters unchanged
    quantity: int | None = Field(default=None, exclude_if=lambda value: value is None)


class Reservation(BaseModel):
    sku: str
    warehouse: str
    quantity: int = Field(ge=1)
    # Hot SKUs keep their stock in several counter items ("shards"); which took how much. None: one item.
    shards: dict[str, int] | None = Field(default=None, exclude_if=lambda value: value is None)


class Shipment(BaseModel):
    shipment_id: str
    order_id: str
    warehouse: str
    carrier: str
    tracking_number: str
    lines: list[Reservation]
    created_at: datetime
    virtual: bool = Field(default=False, exclude_if=lambda value: not value)  # 虚拟出库: no stock moved
    order_ids: list[str] = Field(default_factory=list, exclude_if=lambda value: not value)  # 合单


# ---------------------------------------------------------------- shipping: tracking and exceptions


class TrackingEvent(_Strict):
    """A carrier's tracking event, as posted to POST /shipments/{id}/tracking (docs/shipping.md)."""

    event_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    tracking_number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    status: Literal[
        "picked", "shipped", "in_transit", "out_for_delivery", "delivered", "failed", "damaged", "lost"
    ]
    occurred_at: AwareDatetime
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class ShipmentTracking(BaseModel):
    """One physical parcel's tracking state (SHIPMENT#<id> / TRACKING), shared by the orders it carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    shipment_id: str
    carrier: str
    tracking_number: str
    warehouse: str
    order_ids: list[str]
    platforms: list[str]
    status: str = "created"
    status_at: datetime
    last_progress_at: datetime
    progress_due: datetime | None = None  # no progress by then: the delay check flags it (None: not armed)
    exception_ids: list[str] = []
    version: int = 1
    created_at: datetime


class ExceptionResolution(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: Literal["reship", "refund", "dismiss"]
    comment: str
    actor: str
    at: datetime
    replacement_order_ids: dict[str, str] = {}  # original order id -> its replacement (reship)
    refund_case_ids: dict[str, str] = {}  # order id -> the after-sales refund case it opened (refund)
    written_off: list[Reservation] = []  # units written off in the stock ledger (damaged, lost)


class ExceptionCase(BaseModel):
    """A logistics exception (EXC#<id> / CASE): damaged or lost goods, or a shipment stuck past its SLA."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    exception_id: str
    kind: Literal["damaged", "lost", "delayed"]
    status: Literal["open", "resolved"] = "open"
    shipment_id: str
    carrier: str
    tracking_number: str
    warehouse: str
    order_ids: list[str]
    platforms: list[str] = []
    opened_at: datetime
    opened_by: str
    detail: dict[str, Any] = {}
    resolution: ExceptionResolution | None = None
