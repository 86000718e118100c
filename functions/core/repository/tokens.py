"""The task token an order's execution waits on, and its payment timer: bookkeeping on the ORDER item
that is not a change of the order (no history event, no version bump)."""

from __future__ import annotations

from typing import Any

from functions.core.models.orders import Order
from functions.core.repository._dynamo import av, get, set_remove, write
from functions.core.repository.orders import WAIT_TOKEN, order_key
from functions.core.status import OrderStatus

# ---------------------------------------------------------------- the task token an execution waits on


def set_wait_token(order: Order, token: str, set_fields: dict[str, Any] | None = None) -> bool:
    """Store the task token the order's execution waits on, only if the order is still as read.

    Conditional on status and version: an interception (which bumps the version) that landed after the
    caller read the order makes this fail (False), so the caller re-reads and sees it.
    """
    expression, names, values = set_remove({WAIT_TOKEN: token, **(set_fields or {})})
    return (
        write(
            "update_item",
            Key=order_key(order.order_id),
            UpdateExpression=expression,
            ConditionExpression="#status = :status AND #version = :version",
            ExpressionAttributeNames={**names, "#status": "status", "#version": "version"},
            ExpressionAttributeValues={
                **values,
                ":status": av(order.status.value),
                ":version": av(order.version),
            },
        )
        is not None
    )


def get_wait_token(order_id: str) -> str | None:
    found = get(order_key(order_id), ProjectionExpression="#t", ExpressionAttributeNames={"#t": WAIT_TOKEN})
    token = (found or {}).get(WAIT_TOKEN)
    return str(token) if token else None


def clear_wait_token(order_id: str, token: str) -> None:
    """Forget a used token (only that one: a newer wait may already have stored its own)."""
    write(
        "update_item",
        Key=order_key(order_id),
        UpdateExpression="REMOVE #t",
        ConditionExpression="#t = :token",
        ExpressionAttributeNames={"#t": WAIT_TOKEN},
        ExpressionAttributeValues={":token": av(token)},
    )


# ---------------------------------------------------------------- the payment timer on the ORDER item


def replace_payment_token(order_id: str, status: OrderStatus, token: str) -> bool:
    """A retried wait task has a new token: store it, only while the order still is in `status`."""
    return (
        write(
            "update_item",
            Key=order_key(order_id),
            UpdateExpression="SET #t = :token",
            ConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status", "#t": WAIT_TOKEN},
            ExpressionAttributeValues={":token": av(token), ":status": av(status.value)},
        )
        is not None
    )


def close_payment_timer(
    order_id: str, *, token: str | None = None, status: OrderStatus | None = None
) -> bool:
    """The execution has been told (or needs nothing): drop the order from the timer index.

    Bookkeeping, not a change of the order, so no version bump. Conditional on what the caller acted
    on: the token it delivered, or the status it saw, so a timer is never closed under a change the
    caller did not see.
    """
    conditions: list[str] = ["attribute_exists(pk)"]
    values: dict[str, Any] = {}
    names: dict[str, str] = {"#t": WAIT_TOKEN}
    if token is not None:
        conditions.append("#t = :token")
        values[":token"] = av(token)
    if status is not None:
        conditions.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = av(status.value)
    kwargs: dict[str, Any] = {"ExpressionAttributeNames": names}
    if values:
        kwargs["ExpressionAttributeValues"] = values
    written = write(
        "update_item",
        Key=order_key(order_id),
        UpdateExpression="REMOVE gsi5pk, gsi5sk, #t",
        ConditionExpression=" AND ".join(conditions),
        **kwargs,
    )
    return written is not None
