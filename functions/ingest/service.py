"""Ingest: store a platform's order exactly once and start its one workflow execution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from functions.core import application, clock, repository, workflow
from functions.core.errors import ConflictError, RefusedError
from functions.core.models import HistoryEvent, Order, OrderIn, OrderLine, order_id_for
from functions.core.observability import MetricName, count, logger
from functions.core.status import OrderStatus


@dataclass(frozen=True)
class IngestResult:
    order: Order
    created: bool


def _lines_from_master(order_in: OrderIn) -> list[OrderLine]:
    """The order's lines with what a SKU is taken from the product master, never from the platform.

    A client-sent `virtual` is ignored: the master's kind replaces it (a laptop stays physical and is
    reserved like any laptop). An unknown or inactive SKU is refused: 422 UNKNOWN_SKU naming the line.
    """
    products = repository.get_products(line.sku for line in order_in.lines)
    lines, unknown = [], []
    for index, line in enumerate(order_in.lines):
        product = products.get(line.sku)
        if product is None or not product.active:
            state = "is not in the product master" if product is None else "is inactive in the product master"
            unknown.append((index, f"{line.sku} {state}"))
            continue
        lines.append(line.model_copy(update={"virtual": product.virtual}))
    if unknown:
        fields = [
            {
                "loc": ["body", "lines", index, "sku"],
                "field": f"body.lines.{index}.sku",
                "type": "unknown_sku",
                "message": why,
            }
            for index, why in unknown
        ]
        named = "; ".join(f"lines[{index}].sku: {why}" for index, why in unknown)
        raise RefusedError("UNKNOWN_SKU", named, status=422, fields=fields)
    return lines


def ingest_order(order_in: OrderIn, channel: Literal["api", "connector"] = "api") -> IngestResult:
    """Idempotent on (platform, platform_order_id), also when duplicates arrive at the same instant.

    The order id is derived from that key, so duplicates race for one item and the conditional put lets
    exactly one win. A resend with different content is a conflict. A resend also heals a crash between
    storing the order and starting its execution: whoever finds no execution ARN starts it, and the
    execution name (the order id) makes a second start a no-op.
    """
    order_id = order_id_for(order_in.platform, order_in.platform_order_id)
    try:
        lines = _lines_from_master(order_in)
    except RefusedError:
        # A resend of an order stored before its SKU left the master is still the same order.
        stored = repository.find_order(order_id)
        if stored is None or stored.request_hash != order_in.fingerprint():
            raise
        return IngestResult(order=stored, created=False)
    now = clock.now()
    order = Order(
        **order_in.model_copy(update={"lines": lines}).model_dump(),
        order_id=order_id,
        status=OrderStatus.RECEIVED,
        version=1,
        created_at=now,
        updated_at=now,
        request_hash=order_in.fingerprint(),
        pay_deadline=application.pay_deadline_for(order_in, now),
        channel=channel,
    )
    received = HistoryEvent(
        seq=1,
        at=now,
        type="order.received",
        to_status=OrderStatus.RECEIVED,
        actor=f"platform:{order_in.platform}",
        detail={"platform_order_id": order_in.platform_order_id, "lines": len(order_in.lines)},
    )
    created = repository.create_order(order, received)
    if created:
        count(MetricName.ORDERS_RECEIVED, order_in.platform)
    if not created:
        order = repository.get_order(order_id)
        if order.request_hash != order_in.fingerprint():
            raise ConflictError(
                f"{order_in.platform} order {order_in.platform_order_id} "
                "was already received with other content"
            )
    if order.execution_arn is None:
        arn = workflow.start_order_workflow(order_id, payment=order.payment.status)
        repository.set_execution_arn(order_id, arn)
        order = order.model_copy(update={"execution_arn": arn})
    application.schedule_payment_timeout(order)  # unpaid orders: the pay deadline as a one-time schedule
    logger.info(
        "order ingested",
        extra={
            "order_id": order_id,
            "execution_id": order.execution_arn,
            "platform": order_in.platform,
            "first_receipt": created,
        },
    )
    return IngestResult(order=order, created=created)
