"""What the payment callback carries and what the payment functions answer."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.core.models.base import Money, PaymentId
from functions.core.stage import StageInput
from functions.core.status import OrderStatus


class PaymentCallback(BaseModel):
    """POST /orders/{id}/payment: idempotent by payment_id; amount must equal the order total."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    payment_id: PaymentId
    amount: Money
    paid_at: AwareDatetime


class PaymentOutcome(BaseModel):
    order_id: str
    status: OrderStatus
    outcome: Literal["applied", "recorded", "already_recorded"]


class AwaitPaymentInput(StageInput):
    """The AwaitPayment task (`lambda:invoke.waitForTaskToken`) passes the token with the ids."""

    task_token: str = Field(min_length=1, max_length=2048)


class ParkResult(BaseModel):
    outcome: Literal["waiting", "paid", "cancelled"]


class TimerResult(BaseModel):
    order_id: str
    action: str


class SweepResult(BaseModel):
    due: int
    actions: dict[str, int]
    errors: int
