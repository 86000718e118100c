"""Replacement orders: the OMS ships goods again for an order it already took (补发 reship of damaged or
lost goods, 换货 exchange).

A replacement is an order of its own, so it runs the normal Allocate -> Ship path (stock reserved,
sourced and shipped like any order) and shows up in search and reports as what it is: zero-priced,
already paid, linked to the order it serves by `replaces`. It skips review (the original passed it).
Idempotent on (original order, cause, cause id): a retried task or a repeated request gets the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.core import clock, repository, workflow
from functions.core.errors import ConflictError
from functions.core.models.base import Sku
from functions.core.models.order_in import Amounts, OrderLine
from functions.core.models.orders import HistoryEvent, Order, ReplacementOf
from functions.core.observability import logger
from functions.core.status import OrderStatus

ZERO = Decimal("0.00")


class ReplacementLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: int = Field(ge=1, le=10_000)


def replacement_id_for(original_id: str, cause: str, cause_id: str) -> str:
    """Deterministic, and in a namespace platform order ids (`ord-...`) never reach."""
    digest = hashlib.sha256(f"{original_id}\x1f{cause}\x1f{cause_id}".encode()).hexdigest()
    return f"rpl-{digest[:24]}"


def build_replacement(
    original: Order,
    lines: Sequence[ReplacementLine],
    *,
    cause: Literal["reship", "exchange"],
    cause_id: str,
) -> Order:
    """The replacement order as it will be stored (pure: no I/O)."""
    if not lines:
        raise ValueError("a replacement needs at least one line")
    skus = [line.sku for line in lines]
    if len(skus) != len(set(skus)):
        raise ValueError("each sku may appear once in a replacement")
    order_id = replacement_id_for(original.order_id, cause, cause_id)
    replaces = ReplacementOf(order_id=original.order_id, cause=cause, cause_id=cause_id)
    known = {line.sku: line for line in original.lines}
    now = clock.now()
    order_lines = [
        OrderLine(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=ZERO,
            name=known[line.sku].name if line.sku in known else None,
            virtual=known[line.sku].virtual if line.sku in known else False,
        )
        for line in lines
    ]
    return Order(
        platform=original.platform,
        # Platforms look orders up by their own id: theirs, with the cause appended (<= 64 chars).
        platform_order_id=f"{original.platform_order_id[:40]}:{cause[:2].upper()}-{order_id[4:16]}",
        buyer=original.buyer,
        shipping_address=original.shipping_address,
        lines=order_lines,
        amounts=Amounts(currency=original.amounts.currency, subtotal=ZERO, total=ZERO),
        placed_at=now,
        order_id=order_id,
        status=OrderStatus.RECEIVED,
        version=1,
        created_at=now,
        updated_at=now,
        request_hash=_fingerprint(replaces, lines),
        replaces=replaces,
    )


def _fingerprint(replaces: ReplacementOf, lines: Sequence[ReplacementLine]) -> str:
    """What makes two requests for the same replacement the same: its link and its lines."""
    wanted = ",".join(f"{line.sku}x{line.quantity}" for line in sorted(lines, key=lambda x: x.sku))
    return hashlib.sha256(f"{replaces.model_dump_json()}|{wanted}".encode()).hexdigest()


def create_replacement_order(
    original: Order,
    lines: Sequence[ReplacementLine],
    *,
    cause: Literal["reship", "exchange"],
    cause_id: str,
) -> Order:
    """Store the replacement (once) and start its execution (once).

    A repeat with the same cause id and lines returns the stored order, healing a crash between the
    store and the start as ingest does; with other lines it is a conflict.
    """
    replacement = build_replacement(original, lines, cause=cause, cause_id=cause_id)
    received = HistoryEvent(
        seq=1,
        at=replacement.created_at,
        type="order.received",
        to_status=OrderStatus.RECEIVED,
        actor=f"replacement:{cause}",
        detail={
            "replaces": original.order_id,
            "cause": cause,
            "cause_id": cause_id,
            "lines": len(replacement.lines),
        },
    )
    if not repository.create_order(replacement, received):
        stored = repository.get_order(replacement.order_id)
        if stored.request_hash != replacement.request_hash:
            raise ConflictError(
                f"replacement {replacement.order_id} for {cause} {cause_id} exists with other lines"
            )
        replacement = stored
    if replacement.execution_arn is None:
        arn = workflow.start_order_workflow(replacement.order_id, payment="paid")
        repository.set_execution_arn(replacement.order_id, arn)
        replacement = replacement.model_copy(update={"execution_arn": arn})
    logger.info(
        "replacement order created",
        extra={
            "order_id": replacement.order_id,
            "replaces": original.order_id,
            "cause": cause,
            "cause_id": cause_id,
        },
    )
    return replacement
