"""Order search: one page of GET /orders (filters, index choice and the opaque next token)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from functions.core import pagination, repository
from functions.core.models.orders import Order
from functions.core.repository import OrderSearch
from functions.core.status import OrderStatus


class BuyerRef(BaseModel):
    id: str
    name: str | None = None


class OrderSummary(BaseModel):
    """What a list shows of an order; GET /orders/{id} has the rest."""

    order_id: str
    platform: str
    platform_order_id: str
    status: OrderStatus
    buyer: BuyerRef
    currency: str
    total: Decimal
    lines: int
    created_at: str
    updated_at: str
    problem: str | None = None  # why it is held, rejected or failed, in one line


class OrderList(BaseModel):
    items: list[OrderSummary]
    next_token: str | None = None


def summary(order: Order) -> OrderSummary:
    return OrderSummary(
        order_id=order.order_id,
        platform=order.platform,
        platform_order_id=order.platform_order_id,
        status=order.status,
        buyer=BuyerRef(id=order.buyer.id, name=order.buyer.name),
        currency=order.amounts.currency,
        total=order.amounts.total,
        lines=len(order.lines),
        created_at=order.created_at.isoformat(),
        updated_at=order.updated_at.isoformat(),
        problem=problem(order),
    )


def problem(order: Order) -> str | None:
    if order.failure is not None:
        return f"{order.failure.stage}: {order.failure.error}"
    if order.rejection is not None:
        return f"{order.rejection.code}: {order.rejection.message}"
    if order.cancellation is not None:  # e.g. PAYMENT_TIMEOUT: not paid by the deadline
        refund = " (paid late: refund required)" if order.refund_required else ""
        return f"{order.cancellation.code}: {order.cancellation.message}{refund}"
    if order.manual_review is not None:  # a person decided: the hold reasons are history now
        decided = order.manual_review
        return None if decided.decision == "approve" else f"rejected by {decided.actor}"
    if order.review is not None and order.review.decision != "approve":
        return ", ".join(f"{hit.code}: {hit.message}" for hit in order.review.reasons) or None
    return None


def _digest(search: OrderSearch, limit: int) -> str:
    fields: dict[str, Any] = {
        "status": search.status,
        "platform": search.platform,
        "buyer": search.buyer,
        "from": search.created_from,
        "to": search.created_to,
        "limit": limit,
    }
    return pagination.query_digest(fields)


def search_orders(search: OrderSearch, limit: int, next_token: str | None) -> OrderList:
    """Raises pagination.InvalidTokenError for a token this query did not issue."""
    digest = _digest(search, limit)
    positions = pagination.decode_token(next_token, digest) if next_token else None
    page = repository.search_orders(search, limit, positions)
    token = pagination.encode_token(digest, page.positions) if page.positions is not None else None
    return OrderList(items=[summary(o) for o in page.orders], next_token=token)
