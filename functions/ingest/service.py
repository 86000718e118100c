"""Ingest: store a platform's order exactly once and start its one workflow execution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from functions.core import application, clock, repository, workflow
from functions.core.errors import ConflictError, RefusedError
from functions.core.gift_rules import GiftRule, gift_problem
from functions.core.models.order_in import OrderIn, OrderLine, order_id_for
from functions.core.models.orders import HistoryEvent, Order
from functions.core.observability import MetricName, count, logger
from functions.core.products import Product
from functions.core.status import OrderStatus
from functions.ingest import logic


@dataclass(frozen=True)
class IngestResult:
    order: Order
    created: bool


def _field(index: int, name: str, kind: str, message: str) -> dict[str, Any]:
    return {
        "loc": ["body", "lines", index, name],
        "field": f"body.lines.{index}.{name}",
        "type": kind,
        "message": message,
    }


def _refuse(code: str, problems: list[tuple[int, str, str, str]]) -> RefusedError:
    """422 `code` naming each (line index, field, type, why)."""
    fields = [_field(index, name, kind, why) for index, name, kind, why in problems]
    named = "; ".join(f"lines[{index}].{name}: {why}" for index, name, _, why in problems)
    return RefusedError(code, named, status=422, fields=fields)


def _lines_from_master(order_in: OrderIn) -> list[OrderLine]:
    """The order's lines with what a SKU is taken from the product master, never from the platform.

    A client-sent `virtual` is ignored: the master's kind replaces it (a laptop stays physical and is
    reserved like any laptop). An unknown or inactive SKU is refused: 422 UNKNOWN_SKU naming the line;
    so is a bundle with an unknown or inactive component. Bundles explode into their components
    (ingest/logic.py); what a line's units came from is the OMS's to say, so a platform sending
    `line_total` or `origins` is refused.
    """
    sent = [
        (index, name, "set_by_oms", "is set by the OMS from the product master, not by the platform")
        for index, line in enumerate(order_in.lines)
        for name in ("line_total", "origins", "gift_rule")
        if getattr(line, name) is not None
    ]
    if sent:
        raise _refuse("VALIDATION_ERROR", sent)
    products = repository.get_products(line.sku for line in order_in.lines)
    parts = repository.get_products(c.sku for product in products.values() for c in product.components)
    unknown, broken_bundles = [], []
    for index, line in enumerate(order_in.lines):
        product = products.get(line.sku)
        if not _usable(product):
            unknown.append((index, "sku", "unknown_sku", f"{line.sku} {_missing(product)}"))
            continue
        for component in product.components if product else ():
            if not _usable(parts.get(component.sku)):
                why = f"{line.sku} contains {component.sku}, which {_missing(parts.get(component.sku))}"
                broken_bundles.append((index, "sku", "unknown_sku", why))
    # The strategy center may take orders naming unknown SKUs and hold them for ops (review holds them
    # with reason UNKNOWN_SKU; such a line is stored as sent). A bundle it cannot explode is refused.
    held = unknown and not broken_bundles and repository.active_rules().review.unknown_sku_action == "hold"
    if (unknown and not held) or broken_bundles:
        raise _refuse("UNKNOWN_SKU", sorted(unknown + broken_bundles))
    try:
        return logic.stored_lines(order_in.lines, {**parts, **products})
    except logic.LineProblem as problem:
        raise _refuse(
            "BUNDLE_TOO_LARGE", [(problem.index, "quantity", "too_large", problem.message)]
        ) from None


@dataclass(frozen=True)
class Gifts:
    lines: list[OrderLine]
    given: list[dict[str, Any]]
    skipped: list[dict[str, Any]]  # a gift that could not be given does not fail the order: it is recorded


def _gifts(order_id: str, order_in: OrderIn, lines: list[OrderLine]) -> Gifts:
    """Gift lines the strategy center's gift rules add (赠品策略). A rule's budget is taken with a
    conditional counter (never exceeded, however many orders race for it); a gift out of stock, spent,
    not gift-eligible or already a line of the order is skipped and recorded."""
    rules = logic.gift_rules_for(order_in, lines, repository.active_rules().gifts)
    if not rules:
        return Gifts([], [], [])
    products = repository.get_products(rule.gift_sku for rule in rules)
    taken = {line.sku for line in lines}
    added: list[OrderLine] = []
    given: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for rule in rules:
        product = products.get(rule.gift_sku)
        why = gift_problem(product)
        if why is None and rule.gift_sku in taken:
            why = "already a line of the order"
        elif why is None and len(lines) + len(added) >= logic.MAX_STORED_LINES:
            why = "the order has no room for another line"
        elif why is None and product is not None and not product.virtual and not _in_stock(rule):
            why = "out of stock"
        elif why is None and not repository.claim_gift_units(rule.id, order_id, rule.quantity, rule.budget):
            why = "budget spent"
        if why is not None or product is None:
            skipped.append({"rule": rule.id, "sku": rule.gift_sku, "reason": why})
            continue
        added.append(logic.gift_line(rule, product))
        given.append({"rule": rule.id, "sku": rule.gift_sku, "quantity": rule.quantity})
    return Gifts(added, given, skipped)


def _in_stock(rule: GiftRule) -> bool:
    return sum(level.available for level in repository.get_stock(rule.gift_sku)) >= rule.quantity


def _check_deposit(order_in: OrderIn) -> None:
    """定金: a deposit leaves a balance to pay (422 naming the field otherwise)."""
    deposit = order_in.payment.deposit
    if deposit is None or deposit.amount < order_in.amounts.total:
        return
    why = f"the deposit {deposit.amount} must be less than the total {order_in.amounts.total}"
    field = {"loc": ["body", "payment", "deposit", "amount"], "field": "body.payment.deposit.amount"}
    raise RefusedError(
        "INVALID_DEPOSIT", why, status=422, fields=[{**field, "type": "too_large", "message": why}]
    )


def _usable(product: Product | None) -> bool:
    return product is not None and product.active


def _missing(product: Product | None) -> str:
    return "is not in the product master" if product is None else "is inactive in the product master"


def ingest_order(order_in: OrderIn, channel: Literal["api", "connector"] = "api") -> IngestResult:
    """Idempotent on (platform, platform_order_id), also when duplicates arrive at the same instant.

    The order id is derived from that key, so duplicates race for one item and the conditional put lets
    exactly one win. A resend with different content is a conflict. A resend also heals a crash between
    storing the order and starting its execution: whoever finds no execution ARN starts it, and the
    execution name (the order id) makes a second start a no-op.
    """
    order_id = order_id_for(order_in.platform, order_in.platform_order_id)
    _check_deposit(order_in)
    try:
        lines = _lines_from_master(order_in)
    except RefusedError:
        # A resend of an order stored before its SKU left the master is still the same order.
        stored = repository.find_order(order_id)
        if stored is None or stored.request_hash != order_in.fingerprint():
            raise
        return IngestResult(order=stored, created=False)
    gifts = _gifts(order_id, order_in, lines)
    now = clock.now()
    order = Order(
        **order_in.model_copy(update={"lines": lines + gifts.lines}).model_dump(),
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
        detail={
            "platform_order_id": order_in.platform_order_id,
            "lines": len(order_in.lines),
            **({"gifts": gifts.given} if gifts.given else {}),
            **({"gifts_skipped": gifts.skipped} if gifts.skipped else {}),
        },
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
