"""Canonical order statuses and the legal transitions between them: the one place they are written down.

The data-access layer enforces them with conditional writes, so a stale or illegal transition is refused
by DynamoDB itself rather than by a read-then-write race in Python.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"  # stored, workflow started
    ON_HOLD = "ON_HOLD"  # review wants a person to decide
    APPROVED = "APPROVED"  # passed review, waiting for stock
    BACKORDERED = (
        "BACKORDERED"  # short of stock: waits for a restock (bounded), then allocates or is rejected
    )
    ALLOCATED = "ALLOCATED"  # stock reserved for every physical line
    AWAITING_PAYMENT = "AWAITING_PAYMENT"  # stock reserved, the execution waits for the payment callback
    PAID = "PAID"  # an order that arrived unpaid has been paid; next: ship
    SHIPPED = "SHIPPED"  # handed to the carrier, stock left the warehouse
    DELIVERED = "DELIVERED"
    REJECTED = "REJECTED"  # a business decision: invalid, fraud, or no stock
    CANCELLED = "CANCELLED"  # by buyer, ops or timeout
    FAILED = "FAILED"  # a technical failure the workflow compensated


TERMINAL: frozenset[OrderStatus] = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED}
)

_CANCELLABLE = {OrderStatus.CANCELLED, OrderStatus.FAILED}

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.RECEIVED: frozenset(
        {OrderStatus.APPROVED, OrderStatus.ON_HOLD, OrderStatus.REJECTED, *_CANCELLABLE}
    ),
    # ON_HOLD -> ALLOCATED: an order intercepted (action "hold") after allocation resumes with its stock.
    OrderStatus.ON_HOLD: frozenset(
        {OrderStatus.APPROVED, OrderStatus.ALLOCATED, OrderStatus.REJECTED, *_CANCELLABLE}
    ),
    # -> ON_HOLD: ops intercepted the order with action "hold" before it shipped.
    OrderStatus.APPROVED: frozenset(
        {
            OrderStatus.ALLOCATED,
            OrderStatus.BACKORDERED,
            OrderStatus.ON_HOLD,
            OrderStatus.REJECTED,
            *_CANCELLABLE,
        }
    ),
    OrderStatus.BACKORDERED: frozenset(
        {OrderStatus.ALLOCATED, OrderStatus.ON_HOLD, OrderStatus.REJECTED, *_CANCELLABLE}
    ),
    OrderStatus.ALLOCATED: frozenset(
        {
            OrderStatus.SHIPPED,
            OrderStatus.ON_HOLD,
            OrderStatus.AWAITING_PAYMENT,
            OrderStatus.PAID,
            *_CANCELLABLE,
        }
    ),
    # Payment (functions/payment): an unpaid order parks here until paid or cancelled on timeout; ops
    # may intercept it there too (hold keeps the stock; approving resumes at the payment gate).
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.ON_HOLD, *_CANCELLABLE}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.ON_HOLD, *_CANCELLABLE}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.FAILED: frozenset(),
}


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def sources_of(target: OrderStatus) -> frozenset[OrderStatus]:
    """Every status from which `target` may be entered (used to build condition expressions)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)
