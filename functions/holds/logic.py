"""Held orders waiting for a person: where a decision leads, what the queue shows, when a hold is overdue.

Pure: orders and times in, decisions out.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from functions.core.errors import RefusedError
from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.models.orders import Hold, Order, RuleHit
from functions.core.status import OrderStatus

ManualDecision = Literal["approve", "reject"]


class ReviewDecisionIn(BaseModel):
    """Body of POST /orders/{id}/review."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: ManualDecision
    comment: str = Field(default="", max_length=500, validate_default=True)

    @field_validator("comment")
    @classmethod
    def _reject_says_why(cls, comment: str, info: ValidationInfo) -> str:
        if info.data.get("decision") == "reject" and not comment.strip():
            raise ValueError("a rejection must say why (it is shown on the order)")
        return comment.strip()


def status_after(decision: ManualDecision, hold: Hold | None) -> OrderStatus:
    """Approve resumes where the order stopped (stock still reserved: ALLOCATED); reject ends it."""
    if decision == "reject":
        return OrderStatus.REJECTED
    return OrderStatus.ALLOCATED if hold is not None and hold.resume == "ship" else OrderStatus.APPROVED


def callback_output(decision: ManualDecision, hold: Hold | None) -> dict[str, str]:
    """What the waiting task returns to the state machine (its ReviewResumed Choice routes on it)."""
    return {"decision": decision, "resume": hold.resume if hold is not None else "allocate"}


def already_decided(order: Order, decision: ManualDecision) -> bool:
    """The same decision was already applied (a resent request): answer it again, change nothing."""
    review = order.manual_review
    return (
        review is not None
        and review.decision == decision
        and order.status == status_after(decision, order.hold)
    )


def refuse_review(order: Order) -> RefusedError | None:
    if order.status != OrderStatus.ON_HOLD:
        return RefusedError(
            "NOT_ON_HOLD", f"order {order.order_id} is {order.status}; only ON_HOLD orders can be reviewed"
        )
    if order.interception is not None and order.interception.pending:
        return RefusedError(
            "INTERCEPTED",
            f"order {order.order_id} is being intercepted; decide once the interception is applied",
        )
    return None


def rejection_for(comment: str) -> RuleHit:
    return RuleHit(code="REVIEW_REJECTED", message=comment[:500])


# ---------------------------------------------------------------- escalation


def is_past_sla(hold: Hold | None, now: datetime) -> bool:
    """Still undecided after its escalation deadline, escalated or not (the backlog on-call watches)."""
    return hold is not None and hold.escalate_at is not None and hold.escalate_at <= now


def is_overdue(hold: Hold | None, now: datetime) -> bool:
    """Nobody decided within the configured time, and it was not escalated yet."""
    return (
        hold is not None
        and hold.escalate_at is not None
        and hold.escalated_at is None
        and hold.escalate_at <= now
    )


# ---------------------------------------------------------------- the queue


class HoldEntry(BaseModel):
    """One line of the held-order queue: what a reviewer needs to pick an order, no personal data."""

    order_id: str
    platform: str
    platform_order_id: str
    source: str
    reasons: list[RuleHit]
    held_since: datetime
    escalate_at: datetime | None
    escalated: bool
    total: Decimal
    currency: str
    rules_version: int | None


def hold_reasons(order: Order) -> list[RuleHit]:
    if order.hold is not None:
        return list(order.hold.reasons)
    return list(order.review.reasons) if order.review is not None else []


def queue(orders: list[Order], reason: str | None, limit: int) -> list[HoldEntry]:
    """Held orders (optionally those held for `reason`), oldest hold first: the order they are worked in."""
    entries = []
    for order in orders:
        if order.status != OrderStatus.ON_HOLD:
            continue  # the status index is eventually consistent
        reasons = hold_reasons(order)
        if reason is not None and reason not in {r.code for r in reasons}:
            continue
        hold = order.hold
        entries.append(
            HoldEntry(
                order_id=order.order_id,
                platform=order.platform,
                platform_order_id=order.platform_order_id,
                source=hold.source if hold else "review",
                reasons=reasons,
                held_since=hold.since if hold else order.updated_at,
                escalate_at=hold.escalate_at if hold else None,
                escalated=bool(hold and hold.escalated_at),
                total=order.amounts.total,
                currency=order.amounts.currency,
                rules_version=order.rules_version,
            )
        )
    entries.sort(key=lambda e: (e.held_since, e.order_id))
    return entries[:limit]


def summary(entries: list[HoldEntry]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for entry in entries:
        for code in {r.code for r in entry.reasons}:
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------- many decisions at once

MAX_BULK_DECISIONS = 500


class HeldOrderRef(BaseModel):
    """One order of a bulk decision; `version`: the version the person saw (a newer one is stale)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    version: int | None = Field(default=None, ge=1)


class BulkDecisionIn(ReviewDecisionIn):
    """Body of POST /holds/decisions: one decision and comment for up to 500 held orders."""

    orders: list[HeldOrderRef] = Field(min_length=1, max_length=MAX_BULK_DECISIONS)

    @field_validator("orders")
    @classmethod
    def _each_once(cls, orders: list[HeldOrderRef]) -> list[HeldOrderRef]:
        ids = [ref.order_id for ref in orders]
        if len(set(ids)) != len(ids):
            raise ValueError("an order appears more than once")
        return orders


BulkOutcome = Literal["applied", "repeated", "stale", "refused", "not_found", "retry"]


class BulkDecisionResult(BaseModel):
    """What happened to one order of a bulk decision (every order asked gets one, in the order asked)."""

    order_id: str
    outcome: BulkOutcome
    status: OrderStatus | None = None
    code: str | None = None
    message: str | None = None
    execution_resumed: bool = False
