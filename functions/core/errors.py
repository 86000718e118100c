"""Errors that cross the Lambda boundary: Step Functions matches Retry/Catch on these class names."""


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


class PaymentTimeoutError(OmsError):
    """An unpaid order reached its pay deadline: it was cancelled and its stock released.

    Also the error name the timeout sends with SendTaskFailure, so one Catch routes both ways.
    """
