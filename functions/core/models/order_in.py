"""The order as platforms send it (POST /orders, the connectors), and its deterministic id."""

from __future__ import annotations

import hashlib
from datetime import UTC
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StrictInt, StringConstraints, field_validator, model_validator

from functions.core.line_origin import LineOrigin
from functions.core.models.base import (
    Money,
    PaymentId,
    PlatformName,
    PlatformOrderId,
    Sku,
    StrictModel,
    Text,
)


class Address(StrictModel):
    name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")]
    line1: Text
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Text
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    postal_code: Annotated[str, StringConstraints(max_length=20)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Buyer(StrictModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    name: Annotated[str, StringConstraints(max_length=100)] | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")] | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 ()-]{4,24}$")] | None = None


class OrderLine(StrictModel):
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=10_000)  # "5" and true are refused, not coerced
    unit_price: Money
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    # Gift cards, services, digital goods: no warehouse, no stock; fulfilled by a virtual shipment.
    virtual: bool = False
    # Set by the OMS at capture, refused from platforms: a line made of bundle components (组合装) keeps
    # its exact value (unit_price is then rounded) and where its units came from (docs/products.md).
    line_total: Money | None = Field(default=None, exclude_if=lambda value: value is None)
    origins: tuple[LineOrigin, ...] | None = Field(default=None, exclude_if=lambda value: value is None)
    gift_rule: str | None = Field(default=None, exclude_if=lambda value: value is None)  # a gift (赠品), free

    @property
    def amount(self) -> Decimal:
        return self.line_total if self.line_total is not None else self.unit_price * self.quantity


class Amounts(StrictModel):
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    subtotal: Money
    shipping: Money = Decimal("0.00")
    discount: Money = Decimal("0.00")
    tax: Money = Decimal("0.00")
    total: Money


class Deposit(StrictModel):
    """定金: what the buyer paid up front on the platform; the rest (尾款, the balance) is paid through
    the payment callback by `balance_due_at` (or the strategy center's balance timeout)."""

    payment_id: PaymentId
    amount: Money
    paid_at: AwareDatetime
    balance_due_at: AwareDatetime | None = None


class PaymentIn(StrictModel):
    """How the order arrives: paid (the default, so existing platform bodies keep working) or unpaid.

    An unpaid order reserves stock and then waits for `POST /orders/{id}/payment` until its pay
    deadline (docs/payment-and-timeouts.md); a paid one goes straight on to shipping.
    """

    status: Literal["paid", "unpaid"] = "paid"
    payment_id: PaymentId | None = None
    paid_at: AwareDatetime | None = None
    # 定金/尾款: an unpaid order whose deposit was paid; the callback then pays the balance.
    deposit: Deposit | None = Field(default=None, exclude_if=lambda value: value is None)

    @model_validator(mode="after")
    def _unpaid_has_no_payment(self) -> PaymentIn:
        if self.status == "unpaid" and (self.payment_id is not None or self.paid_at is not None):
            raise ValueError("an unpaid order carries no payment_id or paid_at")
        if self.deposit is not None and self.status != "unpaid":
            raise ValueError("a deposit comes with status unpaid: the balance is still to pay")
        return self


class PlatformFlags(StrictModel):
    """What the platform itself says about the order, beyond its content (review reads these)."""

    presale: bool = False  # 预售: sold before stock exists
    ships_after: AwareDatetime | None = None  # presale: earliest date the platform promised to ship
    risk_flagged: bool = False  # the platform's own risk control marked the order


class OrderIn(StrictModel):
    """The body a platform POSTs to /orders."""

    platform: PlatformName
    platform_order_id: PlatformOrderId
    buyer: Buyer
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1, max_length=100)
    amounts: Amounts
    placed_at: AwareDatetime
    remark: Annotated[str, StringConstraints(max_length=500)] | None = None
    payment: PaymentIn = Field(default_factory=PaymentIn)  # an instance here would build it at import
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
