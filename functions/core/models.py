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
    StringConstraints,
    WithJsonSchema,
    field_validator,
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
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
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
    quantity: int = Field(ge=1, le=10_000)
    unit_price: Money
    name: Annotated[str, StringConstraints(max_length=200)] | None = None

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
        return hashlib.sha256(canonical.model_dump_json().encode()).hexdigest()


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


class Reservation(BaseModel):
    sku: str
    warehouse: str
    quantity: int = Field(ge=1)


class Shipment(BaseModel):
    shipment_id: str
    order_id: str
    warehouse: str
    carrier: str
    tracking_number: str
    lines: list[Reservation]
    created_at: datetime
