"""Buyers: how often a buyer ordered or opened cases (review velocity, after-sales good standing), and the
platform request signatures already seen (replay guard).

    BUYER#<platform>#<buyer> / ORD#<at>#<order id>   an order of the buyer (TTL: expires_at)
    BUYERCASE#<platform>#<buyer> / <at>#<case id>    an after-sales case of the buyer
    SIG#<platform>#<signature> / SIG                 a request signature seen (TTL: expires_at)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from functions.core import clock
from functions.core.models.orders import Order
from functions.core.repository._dynamo import av, instant, item, query_all
from functions.core.repository._dynamo import put as put_record
from functions.core.repository.unit_of_work import Write, put
from functions.core.rules import ReviewRules

# Long enough for the longest velocity window the rules allow (7 days); DynamoDB TTL removes the rest.
BUYER_ORDER_TTL_SECONDS = 8 * 24 * 3600


def _buyer_pk(platform: str, buyer_id: str) -> str:
    return f"BUYER#{platform}#{buyer_id}"


def record_buyer_order(platform: str, buyer_id: str, order_id: str, at: datetime) -> None:
    """Note that the buyer placed `order_id` at `at` (idempotent: the same put again changes nothing)."""
    put_record(
        {
            "pk": _buyer_pk(platform, buyer_id),
            "sk": f"ORD#{instant(at)}#{order_id}",
            "order_id": order_id,
            "expires_at": int(at.timestamp()) + BUYER_ORDER_TTL_SECONDS,
        }
    )


def count_buyer_orders(
    platform: str, buyer_id: str, since: datetime, until: datetime, *, exclude: str | None = None
) -> int:
    """Orders of the buyer received in [since, until], other than `exclude` (expired items skipped)."""
    now_epoch = int(clock.now().timestamp())
    items = query_all(
        KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues={
            ":pk": av(_buyer_pk(platform, buyer_id)),
            ":lo": av(f"ORD#{instant(since)}"),
            ":hi": av(f"ORD#{instant(until)}#~"),
        },
        ProjectionExpression="order_id, expires_at",
        ConsistentRead=True,
    )
    return sum(
        1
        for raw in items
        if raw["order_id"] != exclude and int(raw.get("expires_at", now_epoch)) >= now_epoch
    )


def count_recent_orders(order: Order, policy: ReviewRules) -> int:
    """The buyer's other orders within the velocity window before `order` (review's velocity check)."""
    since = order.created_at - timedelta(minutes=policy.velocity_window_minutes)
    return count_buyer_orders(order.platform, order.buyer.id, since, order.created_at, exclude=order.order_id)


def buyer_case_item(platform: str, buyer_id: str, case_id: str, at: datetime) -> Write:
    return put(
        item(
            {"pk": f"BUYERCASE#{platform}#{buyer_id}", "sk": f"{instant(at)}#{case_id}", "case_id": case_id}
        ),
        tag="buyer_case",
    )


def count_buyer_cases(platform: str, buyer_id: str, since: datetime, *, exclude: str) -> int:
    items = query_all(
        KeyConditionExpression="pk = :pk AND sk >= :lo",
        ExpressionAttributeValues={":pk": av(f"BUYERCASE#{platform}#{buyer_id}"), ":lo": av(instant(since))},
        ProjectionExpression="case_id",
        ConsistentRead=True,
    )
    return sum(1 for raw in items if raw["case_id"] != exclude)


def remember_signature(platform: str, signature: str, expires_at: datetime) -> bool:
    """Record a platform request signature; False when it was already seen (a replay).

    The conditional put makes the check and the record one step, so two copies of a request racing
    each other cannot both pass. `expires_at` lets DynamoDB's TTL delete the item once the signature's
    timestamp is outside the replay window anyway (where the freshness check refuses it first).
    """
    return put_record(
        {
            "pk": f"SIG#{platform}#{signature}",
            "sk": "SIG",
            "seen_at": clock.now().isoformat(),
            "expires_at": int(expires_at.timestamp()),
        },
        ConditionExpression="attribute_not_exists(pk)",
    )
