"""Errors that cross the Lambda boundary: Step Functions matches Retry/Catch on these class names."""

from collections.abc import Sequence
from typing import Any


class OmsError(Exception):
    """Base of the domain's errors."""


class TransientError(OmsError):
    """Worth retrying: throttling, a lost transaction race. The state machine retries it with backoff."""


class OrderNotFoundError(OmsError):
    pass


class IllegalTransitionError(OmsError):
    """The order is not in a status from which the requested change is legal (stale or out-of-order)."""

    def __init__(self, order_id: str, current: str, target: str) -> None:
        super().__init__(f"order {order_id}: {current} -> {target} is not a legal transition")
        self.order_id, self.current, self.target = order_id, current, target


class ConflictError(OmsError):
    """Same idempotency key, different content."""


class StockAvailableError(OmsError):
    """A backordered order has nothing to wait for (stock arrived, or it left BACKORDERED): allocate
    again now. Raised by the AwaitStock task; the state machine catches it and goes back to Allocate."""


class PaymentTimeoutError(OmsError):
    """An unpaid order reached its pay deadline: it was cancelled and its stock released.

    Also the error name the timeout sends with SendTaskFailure, so one Catch routes both ways.
    """


class OrderInterceptedError(OmsError):
    """Ops intercepted the order (POST /orders/{id}/intercept): the stage stops before doing its work.

    Every task's Catch routes this error to the "Intercepted" state, ahead of its States.ALL catch.
    """

    def __init__(self, order_id: str, stage: str) -> None:
        # The ops reason stays on the order: free text may name people, and this message reaches logs.
        super().__init__(f"order {order_id} was intercepted before {stage}")
        self.order_id, self.stage = order_id, stage


class RefusedError(OmsError):
    """A request the order's (or the rules') current state does not allow; the API answers `status`.

    `code` is stable and machine-readable (NOT_ON_HOLD, AFTER_SALES, STALE_RULES, ...).
    """

    def __init__(
        self, code: str, message: str, status: int = 409, fields: Sequence[dict[str, Any]] = ()
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.fields = list(fields)  # the offending inputs, as the error body's `fields` names them
