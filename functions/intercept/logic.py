"""Exception interception (异常订单拦截): which orders can still be stopped, and what stopping one does.

Pure: statuses and requests in, refusals and plans out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.core.errors import RefusedError
from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.models.orders import Hold, Interception, Order, RuleHit
from functions.core.status import TERMINAL, OrderStatus

Action = Literal["cancel", "hold"]

# Before shipment an order can be stopped; these are the steps it can be stopped before.
STAGE_BY_STATUS: dict[OrderStatus, str] = {
    OrderStatus.RECEIVED: "review",
    OrderStatus.ON_HOLD: "hold",
    OrderStatus.APPROVED: "allocate",
    OrderStatus.BACKORDERED: "allocate",  # waiting for a restock (AwaitStock): stopped at once
    OrderStatus.ALLOCATED: "ship",
    OrderStatus.AWAITING_PAYMENT: "payment",  # unpaid, stock reserved (functions/payment)
    OrderStatus.PAID: "ship",
}
# Statuses in which the order holds reserved stock: a hold keeps it and resumes at the payment gate/ship.
STOCK_RESERVED = frozenset({OrderStatus.ALLOCATED, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID})
AFTER_SHIPMENT = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})


class InterceptIn(BaseModel):
    """Body of POST /orders/{id}/intercept."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500)
    action: Action


def refusal(order: Order) -> RefusedError | None:
    """Why this order cannot be intercepted now, or None when it can."""
    if order.status in AFTER_SHIPMENT:
        return RefusedError(
            "AFTER_SALES",
            f"order {order.order_id} is {order.status}: it has left the warehouse and can no longer be "
            "intercepted; handle it as an after-sales case (refund, return or exchange)",
        )
    if order.status in TERMINAL or order.status not in STAGE_BY_STATUS:
        return RefusedError(
            "ALREADY_FINAL", f"order {order.order_id} is {order.status}; there is nothing left to intercept"
        )
    return None


def is_resend(pending: Interception, request: InterceptIn) -> bool:
    return pending.reason == request.reason and pending.action == request.action


@dataclass(frozen=True)
class InterceptionPlan:
    target: OrderStatus
    release_stock: bool
    hold: Hold | None


def plan(order: Order, interception: Interception, now: datetime, escalate_at: datetime) -> InterceptionPlan:
    """Cancel: release what the order holds and end it. Hold: keep its stock and wait for a person;
    approving later resumes where it stopped (reserved stock -> ship, else -> allocate)."""
    if interception.action == "cancel":
        return InterceptionPlan(OrderStatus.CANCELLED, release_stock=True, hold=None)
    reason = RuleHit(code="INTERCEPTED", message=interception.reason)
    if order.status == OrderStatus.ON_HOLD and order.hold is not None:
        held = order.hold  # already waiting for a person: the interception joins the reasons
        hold = held.model_copy(update={"reasons": [*held.reasons, reason], "source": "interception"})
    else:
        hold = Hold(
            source="interception",
            reasons=[reason],
            since=now,
            resume="ship" if order.status in STOCK_RESERVED else "allocate",
            escalate_at=escalate_at,
        )
    return InterceptionPlan(OrderStatus.ON_HOLD, release_stock=False, hold=hold)


class InterceptionResult(BaseModel):
    outcome: Literal["cancelled", "held"]
    status: OrderStatus
    released: int = 0


def outcome_of(interception: Interception) -> Literal["cancelled", "held"]:
    return "cancelled" if interception.action == "cancel" else "held"


# ---------------------------------------------------------------- many orders at once

MAX_BULK_INTERCEPTIONS = 500


class BulkInterceptIn(InterceptIn):
    """Body of POST /orders/interceptions: one reason and action for up to 500 orders."""

    order_ids: list[Annotated[str, StringConstraints(pattern=ORDER_ID_PATTERN)]] = Field(
        min_length=1, max_length=MAX_BULK_INTERCEPTIONS
    )

    @field_validator("order_ids")
    @classmethod
    def _each_once(cls, order_ids: list[str]) -> list[str]:
        if len(set(order_ids)) != len(order_ids):
            raise ValueError("an order appears more than once")
        return order_ids


class BulkInterceptResult(BaseModel):
    """One order of a bulk interception: requested (or already, the same request), refused, unknown."""

    order_id: str
    outcome: Literal["requested", "repeated", "refused", "not_found", "retry"]
    status: OrderStatus | None = None
    code: str | None = None
    message: str | None = None
    wait_stopped: bool = False
