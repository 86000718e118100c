"""The safe point every stage task checks first: an order ops intercepted does not go one step further.

POST /orders/{id}/intercept (functions/intercept) flags the order with a conditional write that also moves
its version on. A stage that read the order before the flag cannot commit after it (its transition is
conditional on that version, fails, is retried, and the retry reads the flag), so checking the flag right
after loading the order is enough: the stage raises OrderInterceptedError and the state machine's Catch
routes it to the "Intercepted" state, which cancels or holds the order per the requested action.
"""

from __future__ import annotations

from functions.core.errors import OrderInterceptedError
from functions.core.models.orders import Order


def ensure_not_intercepted(order: Order, stage: str) -> None:
    """Raise OrderInterceptedError when an interception of `order` is requested and not applied yet."""
    if order.interception is not None and order.interception.pending:
        raise OrderInterceptedError(order.order_id, stage)
